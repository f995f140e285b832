import { describe, expect, it } from 'vitest'
import { AccountSelector } from '../../src/accounts/account-selector.js'
import { emptyHealth } from '../../src/accounts/health.js'
import type { Candidate, Unusable } from '../../src/accounts/types.js'
import type { QuotaSnapshot } from '../../src/upstream/index.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')
const COOLING: Unusable = { kind: 'cooling', until: T0 + 3_600_000, reason: 'usage_limit' }

interface Spec {
  unusable?: Unusable | null
  used?: number | [number, number]
  resetsAt?: number | null
  lastPickedAt?: number | null
}

function quota(used: number | [number, number], resetsAt: number | null): QuotaSnapshot {
  const [primary, secondary] = typeof used === 'number' ? [used, null] : used
  const window = (usedPercent: number | null) =>
    usedPercent === null ? null : { usedPercent, windowMinutes: 300, resetsAt }
  return { primary: window(primary), secondary: window(secondary), credits: null, observedAt: T0 }
}

function candidate(accountId: string, order: number, spec: Spec = {}): Candidate {
  return {
    accountId,
    order,
    health: {
      ...emptyHealth(accountId, T0),
      quota: spec.used === undefined ? null : quota(spec.used, spec.resetsAt ?? T0 + 3_600_000),
    },
    unusable: spec.unusable ?? null,
    lastPickedAt: spec.lastPickedAt ?? null,
  }
}

/** The pool as far as selection goes: three accounts whose state a test can change between picks. */
class Pool {
  readonly specs = new Map<string, Spec>([
    ['a', {}],
    ['b', {}],
    ['c', {}],
  ])
  readonly counts = new Map<string, number>([
    ['a', 0],
    ['b', 0],
    ['c', 0],
  ])
  readonly sequence: string[] = []

  constructor(readonly selector: AccountSelector) {}

  candidates(): Candidate[] {
    return [...this.specs].map(([id, spec], order) => candidate(id, order, spec))
  }

  set(id: string, spec: Spec): void {
    this.specs.set(id, { ...this.specs.get(id), ...spec })
  }

  /** The time of the next pick; each pick moves it on by a second. */
  now = T0

  /** Picks `n` times, one second apart, noting each pick's time as the pool would. */
  pick(n: number, pinned: string | null = null): string[] {
    const picks: string[] = []
    for (let i = 0; i < n; i++) {
      const now = this.now
      this.now += 1000
      const chosen = this.selector.pick(this.candidates(), now, pinned)
      const id = chosen?.accountId ?? 'none'
      picks.push(id)
      this.sequence.push(id)
      if (chosen !== null) {
        this.counts.set(id, (this.counts.get(id) ?? 0) + 1)
        this.set(id, { lastPickedAt: now })
      }
    }
    return picks
  }

  tally(): Record<string, number> {
    return Object.fromEntries(this.counts)
  }
}

describe('AccountSelector', () => {
  it('exposes its strategy and refuses a bad rotation interval', () => {
    expect(new AccountSelector('least-used').strategy).toBe('least-used')
    expect(() => new AccountSelector('sticky', { minRotationIntervalMs: -1 })).toThrow(RangeError)
    expect(() => new AccountSelector('sticky', { minRotationIntervalMs: Number.NaN })).toThrow(
      RangeError,
    )
  })

  it('returns null when nothing is usable, or nothing is offered, for every strategy', () => {
    for (const strategy of ['sticky', 'round-robin', 'least-used', 'pinned'] as const) {
      const selector = new AccountSelector(strategy)
      expect(selector.pick([], T0, 'a')).toBeNull()
      expect(selector.pick([candidate('a', 0, { unusable: COOLING })], T0, 'a')).toBeNull()
    }
  })
})

describe('sticky', () => {
  it('stays on the first account: 30/0/0', () => {
    const pool = new Pool(new AccountSelector('sticky'))
    pool.pick(30)
    expect(pool.tally()).toEqual({ a: 30, b: 0, c: 0 })
  })

  it('starts with the first usable by order, whatever the input order', () => {
    const selector = new AccountSelector('sticky')
    const list = [candidate('z', 2), candidate('y', 1, { unusable: COOLING }), candidate('x', 3)]
    expect(selector.pick(list, T0, null)?.accountId).toBe('z')
  })

  it('moves to the next usable after the current one when it becomes unusable, and stays there', () => {
    const pool = new Pool(new AccountSelector('sticky'))
    pool.pick(10)
    pool.set('a', { unusable: COOLING })
    pool.pick(10)
    // a is usable again, but sticky stays on b until b cannot be used.
    pool.set('a', { unusable: null })
    pool.pick(10)
    expect(pool.tally()).toEqual({ a: 10, b: 20, c: 0 })
  })

  it('skips an unusable next account and wraps around the order', () => {
    const pool = new Pool(new AccountSelector('sticky'))
    pool.set('a', { unusable: COOLING })
    pool.set('b', { unusable: COOLING })
    expect(pool.pick(1)).toEqual(['c'])
    pool.set('a', { unusable: null })
    pool.set('c', { unusable: { kind: 'needs_login' } })
    expect(pool.pick(1)).toEqual(['a'])
  })

  it('continues after the current account even when it left the list', () => {
    const selector = new AccountSelector('sticky')
    expect(selector.pick([candidate('a', 0), candidate('b', 1)], T0, null)?.accountId).toBe('a')
    expect(
      selector.pick([candidate('b', 1), candidate('c', 2), candidate('d', 3)], T0, null)?.accountId,
    ).toBe('b')
    expect(selector.pick([candidate('a', 0), candidate('c', 2)], T0, null)?.accountId).toBe('c')
  })

  it('ignores the pinned argument', () => {
    const pool = new Pool(new AccountSelector('sticky'))
    expect(pool.pick(3, 'c')).toEqual(['a', 'a', 'a'])
  })
})

describe('round-robin', () => {
  it('takes turns by order: 10/10/10 over 30 picks', () => {
    const pool = new Pool(new AccountSelector('round-robin'))
    expect(pool.pick(6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
    pool.pick(24)
    expect(pool.tally()).toEqual({ a: 10, b: 10, c: 10 })
  })

  it('skips unusable accounts: 15/0/15', () => {
    const pool = new Pool(new AccountSelector('round-robin'))
    pool.set('b', { unusable: { kind: 'circuit_open', until: T0 + 30_000 } })
    pool.pick(30)
    expect(pool.tally()).toEqual({ a: 15, b: 0, c: 15 })
  })

  it('continues after the last picked when the next one drops out', () => {
    const pool = new Pool(new AccountSelector('round-robin'))
    expect(pool.pick(1)).toEqual(['a'])
    pool.set('b', { unusable: { kind: 'probing' } })
    expect(pool.pick(3)).toEqual(['c', 'a', 'c'])
  })

  it('keeps the last pick until minRotationIntervalMs has passed since the switch', () => {
    const pool = new Pool(new AccountSelector('round-robin', { minRotationIntervalMs: 5000 }))
    // One pick a second: each account holds for 5 picks (t+0 … t+4), the switch happens at exactly 5000 ms.
    expect(pool.pick(12)).toEqual(['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'c', 'c'])
  })

  it('30 picks 1 s apart with a 10 s interval: 10/10/10', () => {
    const pool = new Pool(new AccountSelector('round-robin', { minRotationIntervalMs: 10_000 }))
    pool.pick(30)
    expect(pool.tally()).toEqual({ a: 10, b: 10, c: 10 })
  })

  it('moves on inside the interval when the last pick becomes unusable', () => {
    const pool = new Pool(new AccountSelector('round-robin', { minRotationIntervalMs: 60_000 }))
    expect(pool.pick(2)).toEqual(['a', 'a'])
    pool.set('a', { unusable: COOLING })
    expect(pool.pick(2)).toEqual(['b', 'b'])
  })

  it('is deterministic: two selectors given the same inputs pick the same sequence', () => {
    const first = new Pool(new AccountSelector('round-robin', { minRotationIntervalMs: 2500 }))
    const second = new Pool(new AccountSelector('round-robin', { minRotationIntervalMs: 2500 }))
    first.pick(20)
    second.pick(20)
    expect(first.sequence).toEqual(second.sequence)
  })
})

describe('least-used', () => {
  it('prefers the most headroom: 0/30/0 when b has the lowest usage', () => {
    const pool = new Pool(new AccountSelector('least-used'))
    pool.set('a', { used: 40 })
    pool.set('b', { used: 10 })
    pool.set('c', { used: 70 })
    pool.pick(30)
    expect(pool.tally()).toEqual({ a: 0, b: 30, c: 0 })
  })

  it('judges by the fuller of the two windows', () => {
    const selector = new AccountSelector('least-used')
    const list = [candidate('a', 0, { used: [10, 90] }), candidate('b', 1, { used: [50, 20] })]
    expect(selector.pick(list, T0, null)?.accountId).toBe('b')
  })

  it('counts no reading as 0 %, and a window whose reset passed as 0 %', () => {
    const selector = new AccountSelector('least-used')
    const noReading = [candidate('a', 0, { used: 1 }), candidate('b', 1)]
    expect(selector.pick(noReading, T0, null)?.accountId).toBe('b')
    const reset = [
      candidate('a', 0, { used: 5, resetsAt: T0 + 1 }),
      candidate('b', 1, { used: 80, resetsAt: T0 }),
    ]
    expect(new AccountSelector('least-used').pick(reset, T0, null)?.accountId).toBe('b')
    expect(new AccountSelector('least-used').pick(reset, T0 - 1, null)?.accountId).toBe('a')
  })

  it('spreads equal headroom by least recently picked: 10/10/10', () => {
    const pool = new Pool(new AccountSelector('least-used'))
    expect(pool.pick(4)).toEqual(['a', 'b', 'c', 'a'])
    pool.pick(26)
    expect(pool.tally()).toEqual({ a: 10, b: 10, c: 10 })
  })

  it('breaks ties by never picked first, then oldest pick, then order', () => {
    const selector = new AccountSelector('least-used')
    const list = [
      candidate('a', 0, { used: 20, lastPickedAt: T0 - 10 }),
      candidate('b', 1, { used: 20, lastPickedAt: T0 - 20 }),
      candidate('c', 2, { used: 20, lastPickedAt: null }),
      candidate('d', 3, { used: 20, lastPickedAt: null }),
    ]
    expect(selector.pick(list, T0, null)?.accountId).toBe('c')
    const picked = [list[0], list[1]].filter((c) => c !== undefined)
    expect(new AccountSelector('least-used').pick(picked, T0, null)?.accountId).toBe('b')
  })

  it('moves when usage changes, and skips unusable accounts even with more headroom', () => {
    const pool = new Pool(new AccountSelector('least-used'))
    pool.set('a', { used: 10 })
    pool.set('b', { used: 20 })
    pool.set('c', { used: 30 })
    expect(pool.pick(2)).toEqual(['a', 'a'])
    pool.set('a', { used: 25 })
    expect(pool.pick(1)).toEqual(['b'])
    pool.set('b', { unusable: COOLING })
    expect(pool.pick(1)).toEqual(['a'])
  })

  it('honours minRotationIntervalMs: keeps the last pick inside the interval', () => {
    const pool = new Pool(new AccountSelector('least-used', { minRotationIntervalMs: 3000 }))
    expect(pool.pick(7)).toEqual(['a', 'a', 'a', 'b', 'b', 'b', 'c'])
  })

  it('leaves the kept account inside the interval when it becomes unusable', () => {
    const pool = new Pool(new AccountSelector('least-used', { minRotationIntervalMs: 60_000 }))
    pool.set('a', { used: 99 })
    expect(pool.pick(1)).toEqual(['b'])
    pool.set('b', { unusable: { kind: 'disabled' } })
    expect(pool.pick(1)).toEqual(['c'])
  })
})

describe('pinned', () => {
  it('always picks the pinned account: 0/30/0', () => {
    const pool = new Pool(new AccountSelector('pinned'))
    pool.pick(30, 'b')
    expect(pool.tally()).toEqual({ a: 0, b: 30, c: 0 })
  })

  it('never falls back: null when the pinned account is unusable, unknown, or nothing is pinned', () => {
    const pool = new Pool(new AccountSelector('pinned'))
    pool.set('b', { unusable: COOLING })
    expect(pool.pick(1, 'b')).toEqual(['none'])
    expect(pool.pick(1, 'nope')).toEqual(['none'])
    expect(pool.pick(1, null)).toEqual(['none'])
    expect(pool.pick(1, 'c')).toEqual(['c'])
  })
})
