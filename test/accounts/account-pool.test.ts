/**
 * `AccountPool` over a `MemoryCredentialStore` and a `MemoryPoolStateStore` with a manual clock: what a pick
 * depends on (strategy, affinity, pinning, exclusions, the store's status, cooldowns, the circuit breaker's
 * half-open probe), what a report changes and which events it publishes, and the error of a pool with nothing
 * usable. Every "never picked" is checked next to a pick that shows the account is otherwise in play.
 */
import { describe, expect, it } from 'vitest'
import {
  AccountPool,
  type AccountPoolOptions,
  type PoolLease,
} from '../../src/accounts/account-pool.js'
import { MemoryPoolStateStore } from '../../src/accounts/memory-pool-state-store.js'
import { PoolExhaustedError } from '../../src/accounts/pool-exhausted.js'
import type { PoolEvent, PoolStateStore } from '../../src/accounts/types.js'
import { ManualClock, Secret } from '../../src/lib/index.js'
import type { AccountStatus, StoredAccount } from '../../src/store/index.js'
import { MemoryCredentialStore } from '../../src/store/memory-credential-store.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')
const HOUR = 3_600_000

function account(id: string, status: AccountStatus = 'active'): StoredAccount {
  return {
    id,
    label: null,
    email: `${id}@example.com`,
    plan: 'plus',
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(`id-${id}`),
      accessToken: Secret.from(`access-${id}`),
      refreshToken: Secret.from(`refresh-${id}`),
      expiresAt: null,
      lastRefresh: T0,
    },
    status,
    statusReason: null,
    addedAt: T0,
    lastUsedAt: null,
  }
}

interface Setup {
  pool: AccountPool
  store: MemoryCredentialStore
  state: MemoryPoolStateStore
  clock: ManualClock
  events: PoolEvent[]
}

function setup(
  ids: readonly string[] = ['A', 'B', 'C'],
  options: Partial<AccountPoolOptions> = {},
): Setup {
  const clock = new ManualClock(T0)
  const store = new MemoryCredentialStore({ accounts: ids.map((id) => account(id)) })
  const state = new MemoryPoolStateStore({ now: () => clock.now() })
  // No cache of the account list, so a status set in the store counts at the next pick.
  const pool = new AccountPool({ store, state, clock, accountsCacheMs: 0, ...options })
  const events: PoolEvent[] = []
  pool.on((event) => events.push(event))
  return { pool, store, state, clock, events }
}

/** Acquires and reports success `n` times; answers the account of each pick. */
async function picks(pool: AccountPool, n: number, hints = {}): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const lease = await pool.acquire(hints)
    ids.push(lease.accountId)
    await lease.report({ kind: 'success', quota: null })
  }
  return ids
}

async function exhausted(promise: Promise<unknown>): Promise<PoolExhaustedError> {
  const error: unknown = await promise.then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(PoolExhaustedError)
  return error as PoolExhaustedError
}

async function setStatus(store: MemoryCredentialStore, id: string, status: AccountStatus) {
  const current = await store.get(id)
  if (current === null) throw new Error(`no account ${id}`)
  await store.put({ ...current, status })
}

describe('AccountPool acquire/report', () => {
  it('round-trips a lease: the pick, the selected event, the success in the shared state', async () => {
    const { pool, state, clock, events } = setup(['A', 'B'])
    const lease = await pool.acquire()
    expect(lease.accountId).toBe('A')
    expect(events).toEqual([
      { type: 'selected', accountId: 'A', strategy: 'sticky', affinity: false },
    ])
    clock.advance(5)
    await lease.report({ kind: 'success', quota: null })
    expect((await state.read()).get('A')?.lastSuccessAt).toBe(T0 + 5)
    // A second report of the same lease is ignored.
    await lease.report({ kind: 'failure' })
    expect((await state.read()).get('A')?.consecutiveFailures).toBe(0)
    // Sticky: stays on A.
    expect(await picks(pool, 3)).toEqual(['A', 'A', 'A'])
  })

  it('round-robin takes turns in store order', async () => {
    const { pool } = setup(['A', 'B', 'C'], { strategy: 'round-robin' })
    expect(await picks(pool, 6)).toEqual(['A', 'B', 'C', 'A', 'B', 'C'])
  })
})

describe('cooldown after a usage limit', () => {
  it('cools the account until its reset, moves traffic, and takes it back after the reset', async () => {
    const { pool, clock, events } = setup(['A', 'B'], { strategy: 'round-robin' })
    const resetsAt = T0 + HOUR
    const first = await pool.acquire()
    expect(first.accountId).toBe('A')
    await first.report({ kind: 'usage_limit', resetsAt })
    expect(events).toContainEqual({
      type: 'cooldown',
      accountId: 'A',
      until: resetsAt,
      reason: 'usage_limit',
    })
    // Positive control: B is picked; A is not, for as long as the cooldown lasts.
    expect(await picks(pool, 4)).toEqual(['B', 'B', 'B', 'B'])
    clock.advance(resetsAt - 1 - clock.now())
    expect(await picks(pool, 2)).toEqual(['B', 'B'])
    expect(events.filter((e) => e.type === 'recovered')).toEqual([])

    clock.advance(resetsAt + 1 - clock.now())
    const after = await picks(pool, 2)
    expect(after).toContain('A')
    expect(events.filter((e) => e.type === 'recovered')).toEqual([
      { type: 'recovered', accountId: 'A' },
    ])
    // Recovered once only: further successes emit nothing new.
    await picks(pool, 4)
    expect(events.filter((e) => e.type === 'recovered')).toHaveLength(1)
  })

  it('a 429 without a reset time cools for the policy default', async () => {
    const { pool, clock } = setup(['A', 'B'], { policy: { defaultCooldownMs: 10_000 } })
    const lease = await pool.acquire()
    await lease.report({ kind: 'usage_limit', resetsAt: null })
    expect(await picks(pool, 2)).toEqual(['B', 'B'])
    clock.advance(10_001)
    const snapshot = await pool.snapshot()
    expect(snapshot.find((view) => view.account.id === 'A')?.unusable).toBeNull()
  })
})

describe('store status', () => {
  it('never picks needs_login or disabled accounts; picks them again once active', async () => {
    const { pool, store } = setup(['A', 'B', 'C'], { strategy: 'round-robin' })
    await setStatus(store, 'A', 'needs_login')
    await setStatus(store, 'C', 'disabled')
    expect(await picks(pool, 5)).toEqual(['B', 'B', 'B', 'B', 'B'])
    // Positive control: the same accounts, active again, are picked.
    await setStatus(store, 'A', 'active')
    await setStatus(store, 'C', 'active')
    expect(new Set(await picks(pool, 3))).toEqual(new Set(['A', 'B', 'C']))
  })

  it('reads the store again after a needs_login outcome, even inside the account cache period', async () => {
    const clock = new ManualClock(T0)
    const store = new MemoryCredentialStore({ accounts: [account('A'), account('B')] })
    const pool = new AccountPool({ store, clock, accountsCacheMs: 60_000 })
    const events: PoolEvent[] = []
    pool.on((event) => events.push(event))
    const lease = await pool.acquire()
    expect(lease.accountId).toBe('A')
    // What the TokenManager does when the refresh is refused, then what it tells the pool.
    await setStatus(store, 'A', 'needs_login')
    await lease.report({ kind: 'needs_login' })
    expect(events).toContainEqual({ type: 'needs_login', accountId: 'A' })
    expect(await picks(pool, 3)).toEqual(['B', 'B', 'B'])
  })
})

describe('circuit breaker and the half-open probe', () => {
  async function openCircuit(s: Setup, id: string): Promise<void> {
    for (let i = 0; i < 3; i++) await s.pool.report(id, { kind: 'failure' })
  }

  it('opens after three failures, then lets exactly one probe out at a time; cancel frees it', async () => {
    const s = setup(['A', 'B'])
    await openCircuit(s, 'A')
    expect(s.events).toContainEqual({
      type: 'cooldown',
      accountId: 'A',
      until: T0 + 30_000,
      reason: 'circuit_open',
    })
    expect(await picks(s.pool, 2)).toEqual(['B', 'B'])
    s.clock.advance(30_000)
    // Half-open now: sticky is on B, so ask for A by excluding B.
    const probe = await s.pool.acquire({}, { exclude: new Set(['B']) })
    expect(probe.accountId).toBe('A')
    // A second acquire skips A while the probe is out …
    const second = await s.pool.acquire({}, { exclude: new Set(['B']) }).catch((e: unknown) => e)
    expect(second).toBeInstanceOf(PoolExhaustedError)
    expect((second as PoolExhaustedError).message).toContain('being re-tested')
    // … and takes it again once the probe is given back.
    probe.cancel()
    const again = await s.pool.acquire({}, { exclude: new Set(['B']) })
    expect(again.accountId).toBe('A')
    await again.report({ kind: 'success', quota: null })
    expect(s.events).toContainEqual({ type: 'recovered', accountId: 'A' })
    const view = (await s.pool.snapshot()).find((v) => v.account.id === 'A')
    expect(view?.health.circuitOpenedAt).toBeNull()
  })

  it('lets one probe out even when two acquires race', async () => {
    const s = setup(['A'])
    await openCircuit(s, 'A')
    s.clock.advance(30_000)
    const results = await Promise.allSettled([s.pool.acquire(), s.pool.acquire()])
    const leases = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    expect(leases.map((lease) => lease.accountId)).toEqual(['A'])
    const refused = results.find((r) => r.status === 'rejected')
    expect(refused?.reason).toBeInstanceOf(PoolExhaustedError)
  })

  it('a failed probe opens the circuit again, for twice as long', async () => {
    const s = setup(['A'])
    await openCircuit(s, 'A')
    s.clock.advance(30_000)
    const probe = await s.pool.acquire()
    await probe.report({ kind: 'failure' })
    const error = await exhausted(s.pool.acquire())
    expect(error.retryAt).toBe(T0 + 30_000 + 60_000)
    expect(error.rateLimited).toBe(false)
    expect(error.httpStatus).toBe(503)
  })
})

describe('affinity', () => {
  it('keeps a conversation on its account while usable and moves it when not', async () => {
    const { pool, events } = setup(['A', 'B', 'C'], { strategy: 'round-robin' })
    const conversation = { promptCacheKey: 'conv-1' }
    const first = await picks(pool, 1, conversation)
    // Other traffic keeps rotating …
    expect(await picks(pool, 2)).toEqual(['B', 'C'])
    // … the conversation does not.
    expect(await picks(pool, 5, conversation)).toEqual(Array<string>(5).fill(first[0] ?? ''))
    expect(events.filter((e) => e.type === 'selected' && e.affinity)).toHaveLength(5)

    // Its account cools down: it moves, and stays where it moved.
    await pool.report('A', { kind: 'usage_limit', resetsAt: T0 + HOUR })
    const moved = await picks(pool, 4, conversation)
    expect(moved[0]).not.toBe('A')
    expect(new Set(moved).size).toBe(1)
  })

  it('a session id and a previous response id hold too; unrelated keys do not', async () => {
    const { pool } = setup(['A', 'B', 'C'], { strategy: 'round-robin' })
    const [bySession] = await picks(pool, 1, { sessionId: 's-1' })
    const [byResponse] = await picks(pool, 1, { previousResponseId: 'resp-1' })
    expect(await picks(pool, 3, { sessionId: 's-1' })).toEqual([bySession, bySession, bySession])
    expect(await picks(pool, 2, { previousResponseId: 'resp-1' })).toEqual([byResponse, byResponse])
    // Positive control for the key mattering: fresh keys rotate.
    const rotated: string[] = []
    for (const key of ['new-0', 'new-1', 'new-2']) {
      rotated.push(...(await picks(pool, 1, { sessionId: key })))
    }
    expect(new Set(rotated).size).toBe(3)
  })
})

describe('pinned', () => {
  it('uses only the pinned account, and otherwise fails naming it', async () => {
    const { pool, state } = setup(['A', 'B', 'C'], { strategy: 'pinned' })
    const none = await exhausted(pool.acquire())
    expect(none.message).toBe('No account is pinned (pin one with: codex-broker accounts use ID).')

    await state.setPinned('B')
    expect(await picks(pool, 4)).toEqual(['B', 'B', 'B', 'B'])
    // Affinity never leads a pinned pool elsewhere.
    expect(await picks(pool, 2, { sessionId: 'x' })).toEqual(['B', 'B'])

    await pool.report('B', { kind: 'usage_limit', resetsAt: T0 + HOUR })
    const error = await exhausted(pool.acquire())
    expect(error.message).toMatch(/^The pinned account B is rate-limited until 13:00 UTC \(/)
    expect(error.rateLimited).toBe(true)
    expect(error.retryAt).toBe(T0 + HOUR)
    // A and C are healthy, yet not used.
    const views = await pool.snapshot()
    expect(views.filter((v) => v.unusable === null).map((v) => v.account.id)).toEqual(['A', 'C'])
    expect(views.find((v) => v.account.id === 'B')?.pinned).toBe(true)
  })

  it('a pinned account that is not in the store is named', async () => {
    const { pool, state } = setup(['A'], { strategy: 'pinned' })
    await state.setPinned('Z')
    const error = await exhausted(pool.acquire())
    expect(error.message).toContain('The pinned account Z is not among the accounts')
  })
})

describe('exclude', () => {
  it('skips the accounts a request already tried', async () => {
    const { pool } = setup(['A', 'B', 'C'])
    const tried = new Set<string>()
    const order: string[] = []
    for (let i = 0; i < 3; i++) {
      const lease: PoolLease = await pool.acquire({ sessionId: 's' }, { exclude: tried })
      order.push(lease.accountId)
      tried.add(lease.accountId)
      lease.cancel()
    }
    expect(order).toEqual(['A', 'B', 'C'])
    const error = await exhausted(pool.acquire({}, { exclude: tried }))
    // Nothing is unusable, only tried.
    expect(error.message).toBe('No account can take this request.')
    // Positive control: without the exclusions it picks.
    expect((await pool.acquire()).accountId).toBeDefined()
  })
})

describe('a failing state store', () => {
  it('does not make report throw, and the pool keeps serving', async () => {
    const clock = new ManualClock(T0)
    const inner = new MemoryPoolStateStore({ now: () => clock.now() })
    let failing = true
    const state: PoolStateStore = {
      read: () => inner.read(),
      update: (id, change, options) =>
        failing ? Promise.reject(new Error('disk full')) : inner.update(id, change, options),
      pinned: () => inner.pinned(),
      setPinned: (id) => inner.setPinned(id),
      forget: (id) => inner.forget(id),
      close: () => inner.close(),
    }
    const store = new MemoryCredentialStore({ accounts: [account('A'), account('B')] })
    const pool = new AccountPool({ store, state, clock })
    const events: PoolEvent[] = []
    pool.on((event) => events.push(event))
    const lease = await pool.acquire()
    await expect(
      lease.report({ kind: 'usage_limit', resetsAt: T0 + HOUR }),
    ).resolves.toBeUndefined()
    await expect(pool.report('A', { kind: 'failure' })).resolves.toBeUndefined()
    // The cooldown was lost with the write: no event claims otherwise, and A is still served.
    expect(events.filter((e) => e.type === 'cooldown')).toEqual([])
    expect((await pool.acquire()).accountId).toBe('A')
    // Positive control: with the store working, the same report cools A.
    failing = false
    await pool.report('A', { kind: 'usage_limit', resetsAt: T0 + HOUR })
    expect(events.filter((e) => e.type === 'cooldown')).toHaveLength(1)
    expect((await pool.acquire()).accountId).toBe('B')
  })
})

describe('an exhausted pool', () => {
  it('throws at once with the documented message, rateLimited and retryAt', async () => {
    const { pool } = setup(['A', 'B'])
    await pool.report('A', { kind: 'usage_limit', resetsAt: T0 + HOUR + 4 * 60_000 })
    await pool.report('B', { kind: 'usage_limit', resetsAt: T0 + 2 * HOUR })
    const error = await exhausted(pool.acquire())
    expect(error.code).toBe('ERR_POOL_EXHAUSTED')
    expect(error.message).toBe(
      'No account can take this request: 2 accounts rate-limited (the earliest until 13:04 UTC).',
    )
    expect(error.rateLimited).toBe(true)
    expect(error.retryAt).toBe(T0 + HOUR + 4 * 60_000)
    expect(error.httpStatus).toBe(429)
    expect(error.retryAfterSeconds(T0)).toBe(3840)
  })

  it('2 rate-limited and 1 needing sign-in: 503 naming both', async () => {
    const { pool, store } = setup(['A', 'B', 'C'])
    await pool.report('A', { kind: 'usage_limit', resetsAt: T0 + HOUR })
    await pool.report('B', { kind: 'usage_limit', resetsAt: T0 + HOUR })
    // Positive control: C still serves.
    expect((await pool.acquire()).accountId).toBe('C')
    await setStatus(store, 'C', 'needs_login')
    const error = await exhausted(pool.acquire())
    expect(error.message).toBe(
      'No account can take this request: 2 accounts rate-limited until 13:00 UTC, 1 needs sign-in (run: codex-broker login).',
    )
    expect(error.rateLimited).toBe(false)
    expect(error.httpStatus).toBe(503)
    expect(error.retryAt).toBe(T0 + HOUR)
  })

  it('an empty store says to sign in', async () => {
    const { pool } = setup([])
    const error = await exhausted(pool.acquire())
    expect(error.message).toBe('No account is signed in (run: codex-broker login).')
    expect(error.retryAt).toBeNull()
  })
})

describe('events', () => {
  it('listeners can unsubscribe, and a throwing listener does not break a pick', async () => {
    const { pool } = setup(['A'])
    const seen: string[] = []
    pool.on(() => {
      throw new Error('listener bug')
    })
    const stop = pool.on((event) => seen.push(event.type))
    await picks(pool, 1)
    stop()
    await picks(pool, 1)
    expect(seen).toEqual(['selected'])
  })
})
