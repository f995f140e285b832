import { describe, expect, it } from 'vitest'
import {
  applyOutcome,
  circuitState,
  DEFAULT_HEALTH_POLICY,
  emptyHealth,
  recordQuota,
  unusableReason,
} from '../../src/accounts/health.js'
import type { AccountHealth, HealthPolicy, RequestOutcome } from '../../src/accounts/types.js'
import type { QuotaSnapshot } from '../../src/upstream/index.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')
const ID = 'acc_1'

function health(overrides: Partial<AccountHealth> = {}): AccountHealth {
  return { ...emptyHealth(ID, T0 - 1000), ...overrides }
}

function quota(
  primary: { used: number; resetsAt: number | null } | null,
  secondary: { used: number; resetsAt: number | null } | null = null,
  observedAt = T0,
): QuotaSnapshot {
  const window = (w: { used: number; resetsAt: number | null } | null) =>
    w === null ? null : { usedPercent: w.used, windowMinutes: 300, resetsAt: w.resetsAt }
  return { primary: window(primary), secondary: window(secondary), credits: null, observedAt }
}

/** Applies outcomes in turn, one millisecond apart, returning the final record. */
function run(start: AccountHealth, outcomes: RequestOutcome[], at = T0): AccountHealth {
  let current = start
  outcomes.forEach((outcome, index) => {
    current = applyOutcome(current, outcome, at + index).health
  })
  return current
}

const failure: RequestOutcome = { kind: 'failure' }
const success: RequestOutcome = { kind: 'success', quota: null }

describe('DEFAULT_HEALTH_POLICY and emptyHealth', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_HEALTH_POLICY).toEqual({
      failureThreshold: 3,
      openMs: 30_000,
      maxOpenMs: 300_000,
      defaultCooldownMs: 60_000,
    })
  })

  it('starts healthy with nothing known', () => {
    expect(emptyHealth(ID, T0)).toEqual({
      accountId: ID,
      quota: null,
      cooldownUntil: null,
      cooldownReason: null,
      consecutiveFailures: 0,
      circuitOpenedAt: null,
      circuitOpenUntil: null,
      lastSuccessAt: null,
      lastFailureAt: null,
      updatedAt: T0,
    })
  })
})

describe('circuitState', () => {
  const opened = health({ circuitOpenedAt: T0, circuitOpenUntil: T0 + 30_000 })

  it('is closed when never opened', () => {
    expect(circuitState(health(), T0)).toBe('closed')
  })

  it('is open until circuitOpenUntil, half-open from then on', () => {
    expect(circuitState(opened, T0)).toBe('open')
    expect(circuitState(opened, T0 + 29_999)).toBe('open')
    expect(circuitState(opened, T0 + 30_000)).toBe('half_open')
    expect(circuitState(opened, T0 + 999_999)).toBe('half_open')
  })
})

describe('applyOutcome: failure and the circuit breaker', () => {
  it('counts failures and opens the circuit exactly at the threshold', () => {
    const below = run(health(), [failure, failure])
    expect(below.consecutiveFailures).toBe(2)
    expect(below.circuitOpenedAt).toBeNull()
    expect(below.lastFailureAt).toBe(T0 + 1)

    const { health: opened, events } = applyOutcome(below, failure, T0 + 10)
    expect(opened.consecutiveFailures).toBe(3)
    expect(opened.circuitOpenedAt).toBe(T0 + 10)
    expect(opened.circuitOpenUntil).toBe(T0 + 10 + 30_000)
    expect(opened.updatedAt).toBe(T0 + 10)
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: T0 + 10 + 30_000, reason: 'circuit_open' },
    ])
  })

  it('emits nothing for failures below the threshold', () => {
    expect(applyOutcome(health(), failure, T0).events).toEqual([])
    expect(applyOutcome(health({ consecutiveFailures: 1 }), failure, T0).events).toEqual([])
  })

  it('honours a custom threshold and open period', () => {
    const policy: HealthPolicy = { ...DEFAULT_HEALTH_POLICY, failureThreshold: 1, openMs: 5_000 }
    const { health: next } = applyOutcome(health(), failure, T0, policy)
    expect(next.circuitOpenUntil).toBe(T0 + 5_000)
  })

  it('only counts a failure while open (a request sent earlier), without extending the period', () => {
    const open = health({
      consecutiveFailures: 3,
      circuitOpenedAt: T0,
      circuitOpenUntil: T0 + 30_000,
    })
    const { health: next, events } = applyOutcome(open, failure, T0 + 29_999)
    expect(next.consecutiveFailures).toBe(4)
    expect(next.circuitOpenedAt).toBe(T0)
    expect(next.circuitOpenUntil).toBe(T0 + 30_000)
    expect(events).toEqual([])
  })

  it('reopens for double the previous period when a half-open probe fails', () => {
    const halfOpen = health({
      consecutiveFailures: 3,
      circuitOpenedAt: T0,
      circuitOpenUntil: T0 + 30_000,
    })
    const { health: next, events } = applyOutcome(halfOpen, failure, T0 + 30_000)
    expect(next.circuitOpenedAt).toBe(T0 + 30_000)
    expect(next.circuitOpenUntil).toBe(T0 + 30_000 + 60_000)
    expect(next.consecutiveFailures).toBe(4)
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: T0 + 90_000, reason: 'circuit_open' },
    ])
  })

  it('caps the doubled period at maxOpenMs (both sides of the cap)', () => {
    const probeFailsAfter = (period: number) => {
      const halfOpen = health({ circuitOpenedAt: T0, circuitOpenUntil: T0 + period })
      const now = T0 + period
      const next = applyOutcome(halfOpen, failure, now).health
      return (next.circuitOpenUntil ?? 0) - now
    }
    expect(probeFailsAfter(149_999)).toBe(299_998)
    expect(probeFailsAfter(150_000)).toBe(300_000)
    expect(probeFailsAfter(150_001)).toBe(300_000)
    expect(probeFailsAfter(300_000)).toBe(300_000)
  })

  it('doubles 30 s → 60 s → 120 s → 240 s → 300 s over failed probes', () => {
    let current = run(health(), [failure, failure, failure])
    const periods: number[] = []
    for (let probe = 0; probe < 5; probe++) {
      const now = current.circuitOpenUntil ?? 0
      current = applyOutcome(current, failure, now).health
      periods.push((current.circuitOpenUntil ?? 0) - now)
    }
    expect(periods).toEqual([60_000, 120_000, 240_000, 300_000, 300_000])
  })

  it('restarts from openMs when a stored period makes no sense', () => {
    const broken = health({ circuitOpenedAt: T0, circuitOpenUntil: T0 - 5 })
    const next = applyOutcome(broken, failure, T0).health
    expect(next.circuitOpenUntil).toBe(T0 + 30_000)
  })

  it('does not mutate its input', () => {
    const before = health({ consecutiveFailures: 2 })
    const copy = structuredClone(before)
    applyOutcome(before, failure, T0)
    applyOutcome(before, success, T0)
    applyOutcome(before, { kind: 'usage_limit', resetsAt: T0 + 1 }, T0)
    expect(before).toEqual(copy)
  })
})

describe('applyOutcome: success', () => {
  it('resets failures, closes the circuit and notes the time', () => {
    const failing = health({ consecutiveFailures: 2 })
    const { health: next, events } = applyOutcome(failing, success, T0)
    expect(next.consecutiveFailures).toBe(0)
    expect(next.lastSuccessAt).toBe(T0)
    expect(next.updatedAt).toBe(T0)
    expect(events).toEqual([])
  })

  it('closes a half-open circuit (the probe succeeded) and emits recovered', () => {
    const halfOpen = health({
      consecutiveFailures: 3,
      circuitOpenedAt: T0 - 30_000,
      circuitOpenUntil: T0,
    })
    const { health: next, events } = applyOutcome(halfOpen, success, T0)
    expect(next.circuitOpenedAt).toBeNull()
    expect(next.circuitOpenUntil).toBeNull()
    expect(next.consecutiveFailures).toBe(0)
    expect(events).toEqual([{ type: 'recovered', accountId: ID }])
  })

  it('closes an open circuit too (an answer that was already on its way)', () => {
    const open = health({ circuitOpenedAt: T0, circuitOpenUntil: T0 + 30_000 })
    const { health: next, events } = applyOutcome(open, success, T0 + 1)
    expect(circuitState(next, T0 + 1)).toBe('closed')
    expect(events).toEqual([{ type: 'recovered', accountId: ID }])
  })

  it('clears a cooldown once its time has come (at until, not at until − 1)', () => {
    const cooling = health({ cooldownUntil: T0, cooldownReason: 'usage_limit' })

    const early = applyOutcome(cooling, success, T0 - 1)
    expect(early.health.cooldownUntil).toBe(T0)
    expect(early.health.cooldownReason).toBe('usage_limit')
    expect(early.events).toEqual([])

    const due = applyOutcome(cooling, success, T0)
    expect(due.health.cooldownUntil).toBeNull()
    expect(due.health.cooldownReason).toBeNull()
    expect(due.events).toEqual([{ type: 'recovered', accountId: ID }])
  })

  it('emits one recovered when both a cooldown and the circuit end', () => {
    const both = health({
      cooldownUntil: T0 - 1,
      cooldownReason: 'usage_limit',
      circuitOpenedAt: T0 - 30_000,
      circuitOpenUntil: T0 - 1,
    })
    expect(applyOutcome(both, success, T0).events).toEqual([{ type: 'recovered', accountId: ID }])
  })

  it('replaces the quota when the answer carries one, keeps it otherwise', () => {
    const old = quota({ used: 10, resetsAt: T0 + 3_600_000 }, null, T0 - 5000)
    const fresh = quota({ used: 20, resetsAt: T0 + 3_600_000 })
    expect(applyOutcome(health({ quota: old }), success, T0).health.quota).toBe(old)
    expect(
      applyOutcome(health({ quota: old }), { kind: 'success', quota: fresh }, T0).health.quota,
    ).toBe(fresh)
  })

  it('keeps a newer reading over an older one (answers from several processes arrive out of order)', () => {
    const newer = quota({ used: 40, resetsAt: null }, null, T0)
    const older = quota({ used: 30, resetsAt: null }, null, T0 - 1)
    const next = applyOutcome(health({ quota: newer }), { kind: 'success', quota: older }, T0)
    expect(next.health.quota).toBe(newer)
    const same = quota({ used: 41, resetsAt: null }, null, T0)
    expect(
      applyOutcome(health({ quota: newer }), { kind: 'success', quota: same }, T0).health.quota,
    ).toBe(same)
  })

  it('cools an account whose reading shows a window at 100 % until that window resets', () => {
    const resetsAt = T0 + 600_000
    const full = quota({ used: 100, resetsAt })
    const { health: next, events } = applyOutcome(health(), { kind: 'success', quota: full }, T0)
    expect(next.cooldownUntil).toBe(resetsAt)
    expect(next.cooldownReason).toBe('quota_exhausted')
    expect(next.lastSuccessAt).toBe(T0)
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: resetsAt, reason: 'quota_exhausted' },
    ])
  })

  it('does not cool at 99.9 %, nor when the full window has no future reset', () => {
    const cases = [
      quota({ used: 99.9, resetsAt: T0 + 600_000 }),
      quota({ used: 100, resetsAt: T0 }),
      quota({ used: 100, resetsAt: null }),
    ]
    for (const reading of cases) {
      const { health: next, events } = applyOutcome(
        health(),
        { kind: 'success', quota: reading },
        T0,
      )
      expect(next.cooldownUntil).toBeNull()
      expect(events).toEqual([])
    }
    const justAhead = applyOutcome(
      health(),
      { kind: 'success', quota: quota({ used: 100, resetsAt: T0 + 1 }) },
      T0,
    )
    expect(justAhead.health.cooldownUntil).toBe(T0 + 1)
  })

  it('uses the secondary window, and the later reset when both windows are full', () => {
    const weekly = quota(
      { used: 50, resetsAt: T0 + 1000 },
      { used: 100, resetsAt: T0 + 86_400_000 },
    )
    expect(
      applyOutcome(health(), { kind: 'success', quota: weekly }, T0).health.cooldownUntil,
    ).toBe(T0 + 86_400_000)
    const both = quota({ used: 100, resetsAt: T0 + 5000 }, { used: 120, resetsAt: T0 + 4000 })
    expect(applyOutcome(health(), { kind: 'success', quota: both }, T0).health.cooldownUntil).toBe(
      T0 + 5000,
    )
  })

  it('keeps a later cooldown and emits nothing when the full window resets earlier', () => {
    const cooling = health({ cooldownUntil: T0 + 900_000, cooldownReason: 'usage_limit' })
    const full = quota({ used: 100, resetsAt: T0 + 600_000 })
    const { health: next, events } = applyOutcome(cooling, { kind: 'success', quota: full }, T0)
    expect(next.cooldownUntil).toBe(T0 + 900_000)
    expect(next.cooldownReason).toBe('usage_limit')
    expect(events).toEqual([])
  })

  it('recovers from a passed cooldown and cools again on a full reading, in that order', () => {
    const cooled = health({ cooldownUntil: T0 - 1, cooldownReason: 'usage_limit' })
    const full = quota({ used: 100, resetsAt: T0 + 60_000 })
    const { health: next, events } = applyOutcome(cooled, { kind: 'success', quota: full }, T0)
    expect(next.cooldownUntil).toBe(T0 + 60_000)
    expect(next.cooldownReason).toBe('quota_exhausted')
    expect(events).toEqual([
      { type: 'recovered', accountId: ID },
      { type: 'cooldown', accountId: ID, until: T0 + 60_000, reason: 'quota_exhausted' },
    ])
  })
})

describe('applyOutcome: usage_limit', () => {
  it('cools until resets_at without counting a failure', () => {
    const failing = health({ consecutiveFailures: 2 })
    const { health: next, events } = applyOutcome(
      failing,
      { kind: 'usage_limit', resetsAt: T0 + 3_600_000 },
      T0,
    )
    expect(next.cooldownUntil).toBe(T0 + 3_600_000)
    expect(next.cooldownReason).toBe('usage_limit')
    expect(next.lastFailureAt).toBe(T0)
    expect(next.consecutiveFailures).toBe(2)
    expect(next.circuitOpenedAt).toBeNull()
    expect(next.updatedAt).toBe(T0)
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: T0 + 3_600_000, reason: 'usage_limit' },
    ])
  })

  it('cools for defaultCooldownMs when the 429 gave no reset time, or one already past', () => {
    for (const resetsAt of [null, T0, T0 - 10_000]) {
      const next = applyOutcome(health(), { kind: 'usage_limit', resetsAt }, T0).health
      expect(next.cooldownUntil).toBe(T0 + 60_000)
    }
    const policy = { ...DEFAULT_HEALTH_POLICY, defaultCooldownMs: 5 }
    expect(
      applyOutcome(health(), { kind: 'usage_limit', resetsAt: null }, T0, policy).health
        .cooldownUntil,
    ).toBe(T0 + 5)
    expect(
      applyOutcome(health(), { kind: 'usage_limit', resetsAt: T0 + 1 }, T0).health.cooldownUntil,
    ).toBe(T0 + 1)
  })

  it('never shortens a cooldown still in the future, but replaces one that passed', () => {
    const cooling = health({ cooldownUntil: T0 + 900_000, cooldownReason: 'quota_exhausted' })
    const { health: kept, events } = applyOutcome(
      cooling,
      { kind: 'usage_limit', resetsAt: T0 + 1000 },
      T0,
    )
    expect(kept.cooldownUntil).toBe(T0 + 900_000)
    expect(kept.cooldownReason).toBe('usage_limit')
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: T0 + 900_000, reason: 'usage_limit' },
    ])

    const passed = health({ cooldownUntil: T0, cooldownReason: 'usage_limit' })
    expect(
      applyOutcome(passed, { kind: 'usage_limit', resetsAt: null }, T0).health.cooldownUntil,
    ).toBe(T0 + 60_000)
  })
})

describe('applyOutcome: needs_login and client_error', () => {
  it('needs_login notes the failure time and emits needs_login, nothing else', () => {
    const before = health({ consecutiveFailures: 1 })
    const { health: next, events } = applyOutcome(before, { kind: 'needs_login' }, T0)
    expect(next).toEqual({ ...before, lastFailureAt: T0, updatedAt: T0 })
    expect(events).toEqual([{ type: 'needs_login', accountId: ID }])
  })

  it('client_error changes nothing', () => {
    const before = health({ consecutiveFailures: 2 })
    const { health: next, events } = applyOutcome(before, { kind: 'client_error' }, T0)
    expect(next).toBe(before)
    expect(events).toEqual([])
    // …so it does not reset failures: two client errors between faults still open the circuit.
    const after = run(before, [{ kind: 'client_error' }, failure])
    expect(after.circuitOpenedAt).not.toBeNull()
  })
})

describe('recordQuota', () => {
  it('stores the reading without touching failures, the circuit or a passed cooldown', () => {
    const before = health({
      consecutiveFailures: 3,
      circuitOpenedAt: T0 - 30_000,
      circuitOpenUntil: T0 - 1,
      cooldownUntil: T0 - 1,
      cooldownReason: 'usage_limit',
    })
    const reading = quota({ used: 12, resetsAt: T0 + 1000 })
    const { health: next, events } = recordQuota(before, reading, T0)
    expect(next).toEqual({ ...before, quota: reading, updatedAt: T0 })
    expect(events).toEqual([])
  })

  it('cools on a full window like a success does', () => {
    const reading = quota({ used: 100, resetsAt: T0 + 1000 })
    const { health: next, events } = recordQuota(health(), reading, T0)
    expect(next.cooldownUntil).toBe(T0 + 1000)
    expect(next.cooldownReason).toBe('quota_exhausted')
    expect(next.lastSuccessAt).toBeNull()
    expect(events).toEqual([
      { type: 'cooldown', accountId: ID, until: T0 + 1000, reason: 'quota_exhausted' },
    ])
  })

  it('ignores a reading older than the stored one', () => {
    const newer = quota({ used: 50, resetsAt: null }, null, T0)
    const older = quota({ used: 100, resetsAt: T0 + 1000 }, null, T0 - 1)
    const { health: next, events } = recordQuota(health({ quota: newer }), older, T0)
    expect(next.quota).toBe(newer)
    expect(next.cooldownUntil).toBeNull()
    expect(events).toEqual([])
  })
})

describe('unusableReason', () => {
  const chatgpt = { status: 'active', auth: { kind: 'chatgpt' } } as const
  const options = { kind: 'chatgpt', probeInFlight: false } as const

  it('is null for a healthy account of the right kind', () => {
    expect(unusableReason(chatgpt, health(), T0, options)).toBeNull()
  })

  it('puts the store status first: needs_login, disabled', () => {
    const everything = health({ cooldownUntil: T0 + 1, cooldownReason: 'usage_limit' })
    expect(
      unusableReason({ ...chatgpt, status: 'needs_login' }, everything, T0, {
        kind: 'apiKey',
        probeInFlight: true,
      }),
    ).toEqual({ kind: 'needs_login' })
    expect(
      unusableReason({ ...chatgpt, status: 'disabled' }, everything, T0, {
        kind: 'apiKey',
        probeInFlight: true,
      }),
    ).toEqual({ kind: 'disabled' })
  })

  it('rejects the wrong kind of account before looking at its health', () => {
    const cooling = health({ cooldownUntil: T0 + 1, cooldownReason: 'usage_limit' })
    expect(unusableReason(chatgpt, cooling, T0, { ...options, kind: 'apiKey' })).toEqual({
      kind: 'wrong_kind',
    })
    expect(
      unusableReason({ status: 'active', auth: { kind: 'apiKey' } }, health(), T0, options),
    ).toEqual({ kind: 'wrong_kind' })
  })

  it('is cooling while cooldownUntil > now (until − 1 cooling, until usable)', () => {
    const cooling = health({ cooldownUntil: T0, cooldownReason: 'quota_exhausted' })
    expect(unusableReason(chatgpt, cooling, T0 - 1, options)).toEqual({
      kind: 'cooling',
      until: T0,
      reason: 'quota_exhausted',
    })
    expect(unusableReason(chatgpt, cooling, T0, options)).toBeNull()
  })

  it('reports a cooldown without a stored reason as a usage limit', () => {
    const cooling = health({ cooldownUntil: T0 + 1, cooldownReason: null })
    expect(unusableReason(chatgpt, cooling, T0, options)).toEqual({
      kind: 'cooling',
      until: T0 + 1,
      reason: 'usage_limit',
    })
  })

  it('is circuit_open while open; half-open is usable unless its probe is out', () => {
    const opened = health({ circuitOpenedAt: T0 - 30_000, circuitOpenUntil: T0 })
    expect(unusableReason(chatgpt, opened, T0 - 1, options)).toEqual({
      kind: 'circuit_open',
      until: T0,
    })
    expect(unusableReason(chatgpt, opened, T0 - 1, { ...options, probeInFlight: true })).toEqual({
      kind: 'circuit_open',
      until: T0,
    })
    expect(unusableReason(chatgpt, opened, T0, options)).toBeNull()
    expect(unusableReason(chatgpt, opened, T0, { ...options, probeInFlight: true })).toEqual({
      kind: 'probing',
    })
  })

  it('ignores probeInFlight when the circuit is closed', () => {
    expect(unusableReason(chatgpt, health(), T0, { ...options, probeInFlight: true })).toBeNull()
  })

  it('reports a cooldown before an open circuit', () => {
    const both = health({
      cooldownUntil: T0 + 5,
      cooldownReason: 'usage_limit',
      circuitOpenedAt: T0,
      circuitOpenUntil: T0 + 10,
    })
    expect(unusableReason(chatgpt, both, T0, options)?.kind).toBe('cooling')
    expect(unusableReason(chatgpt, both, T0 + 5, options)).toEqual({
      kind: 'circuit_open',
      until: T0 + 10,
    })
  })
})
