/**
 * The proxy over an account pool, end to end against the simulator with three signed-in accounts: a usage limit
 * moves traffic without the client seeing it and the account comes back after its reset; a dead sign-in is found
 * out once and never picked again; an exhausted pool answers at once with `ERR_POOL_EXHAUSTED` (429 or 503,
 * `Retry-After`) and no upstream call; affinity and the strategies' distribution, counted per account by the
 * simulator; a cooling account gets nothing under 1,000 concurrent requests; a stream cut after the first byte is
 * not retried elsewhere; and no issued secret shows in any answer.
 */
import { describe, expect, it } from 'vitest'
import { RESPONSES_ROUTE } from './proxy-fixture.js'
import { poolBody, usePoolProxy, type PoolFixture } from './pool-fixture.js'

const HOUR_S = 3_600

/** Sends `n` requests one after the other; answers their statuses. */
async function sequential(
  fixture: PoolFixture,
  n: number,
  body: () => unknown = () => poolBody(),
  headers: Record<string, string> = {},
): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < n; i++) statuses.push((await fixture.post(body(), headers)).status)
  return statuses
}

function all200(statuses: number[]): void {
  expect(statuses.filter((status) => status !== 200)).toEqual([])
}

function diff(after: number[], before: number[]): number[] {
  return after.map((count, i) => count - (before[i] ?? 0))
}

describe('a usage limit moves traffic', () => {
  it('one account at 100 %: the client sees no error, and the account is used again after its reset', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const [a] = f.accounts
    if (a === undefined) throw new Error('no account')
    // Positive control: all three serve.
    all200(await sequential(f, 3))
    expect(f.answered()).toEqual([1, 1, 1])

    f.sim.control.setQuota({
      accountId: a.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: HOUR_S,
    })
    const callsBefore = f.responsesCalls()
    all200(await sequential(f, 30))
    expect(diff(f.answered(), [1, 1, 1])).toEqual([0, 15, 15])
    // Exactly one request met the 429; the cooldown kept every later one away from A.
    expect(f.responsesCalls() - callsBefore).toBe(31)
    const cooldown = f.events.find((e) => e.type === 'cooldown')
    expect(cooldown).toMatchObject({ accountId: a.accountId, reason: 'usage_limit' })

    // Past the reset (the simulator's window starts over, the pool's cooldown ends): A is used again.
    f.clock.advance((HOUR_S + 5) * 1000)
    const before = f.answered()
    all200(await sequential(f, 30))
    expect(diff(f.answered(), before)).toEqual([10, 10, 10])
    expect(f.events).toContainEqual({ type: 'recovered', accountId: a.accountId })
  })

  it('setting the quota back does not shorten the cooldown the 429 announced', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const [a] = f.accounts
    if (a === undefined) throw new Error('no account')
    f.sim.control.setQuota({
      accountId: a.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: HOUR_S,
    })
    all200(await sequential(f, 3))
    f.sim.control.setQuota({ accountId: a.accountId, primaryUsedPercent: 0 })
    all200(await sequential(f, 12))
    expect(f.answered()[0]).toBe(0)
    // Positive control: once the announced reset passes, A serves again.
    f.clock.advance((HOUR_S + 5) * 1000)
    all200(await sequential(f, 3))
    expect(f.answered()[0]).toBe(1)
  })
})

describe('a needs_login account', () => {
  it('is found out once (its refresh fails) and never picked again; the client sees no error', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const c = f.accounts[2]
    if (c === undefined) throw new Error('no account')
    // Positive control: C serves while signed in.
    all200(await sequential(f, 3))
    expect(f.answered()).toEqual([1, 1, 1])

    f.sim.control.revokeAccount({ accountId: c.accountId })
    const callsBefore = f.responsesCalls()
    all200(await sequential(f, 30))
    expect(diff(f.answered(), [1, 1, 1])).toEqual([15, 15, 0])
    // One 401 found it out; afterwards nothing went to C (no request, no refresh).
    expect(f.responsesCalls() - callsBefore).toBe(31)
    expect((await f.store.get(c.accountId))?.status).toBe('needs_login')
    expect(f.events).toContainEqual({ type: 'needs_login', accountId: c.accountId })
    const refreshes = f.sim.control.counters().refreshCalls
    all200(await sequential(f, 6))
    expect(f.sim.control.counters().refreshCalls).toBe(refreshes)
    expect(f.answered()[2]).toBe(1)
  })
})

describe('an exhausted pool', () => {
  it('every account rate-limited: 429 ERR_POOL_EXHAUSTED with Retry-After, at once, with no upstream call', async () => {
    const f = await usePoolProxy()
    // Positive control: the pool serves.
    expect((await f.post()).status).toBe(200)
    for (const account of f.accounts) {
      f.sim.control.setQuota({
        accountId: account.accountId,
        primaryUsedPercent: 100,
        resetsInSeconds: 3 * HOUR_S,
      })
    }
    // The first request meets the three 429s and already answers with the pool's error.
    const callsBefore = f.responsesCalls()
    const first = await f.post()
    expect(f.responsesCalls() - callsBefore).toBe(3)
    for (const answer of [first, await f.post(), await f.post()]) {
      expect(answer.status).toBe(429)
      const body = JSON.parse(answer.text) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('ERR_POOL_EXHAUSTED')
      expect(body.error.message).toMatch(
        /^No account can take this request: 3 accounts rate-limited until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\.$/,
      )
      // Hours away, and the request completed (post() aborts after 15 s: it did not wait for the reset).
      const retryAfter = Number(answer.headers['retry-after'])
      expect(retryAfter).toBeGreaterThan(3 * HOUR_S - 60)
      expect(retryAfter).toBeLessThanOrEqual(3 * HOUR_S + 60)
      expect(answer.text).not.toContain('usage_limit_reached')
    }
    // No further upstream call after the three that found the limits.
    expect(f.responsesCalls() - callsBefore).toBe(3)
    expect(f.answered()).toEqual([1, 0, 0])
  })

  it('2 rate-limited and 1 needing sign-in: 503 naming both, with Retry-After', async () => {
    const f = await usePoolProxy()
    const [a, b, c] = f.accounts
    if (a === undefined || b === undefined || c === undefined) throw new Error('no accounts')
    for (const account of [a, b]) {
      f.sim.control.setQuota({
        accountId: account.accountId,
        primaryUsedPercent: 100,
        resetsInSeconds: HOUR_S,
      })
    }
    // Positive control: C still serves, so the pool is not exhausted yet.
    expect((await f.post()).status).toBe(200)
    expect(f.answered()).toEqual([0, 0, 1])
    f.sim.control.revokeAccount({ accountId: c.accountId })
    const callsBefore = f.responsesCalls()
    const answers = [await f.post(), await f.post()]
    // The first found C's sign-in dead (one 401); the second went nowhere.
    expect(f.responsesCalls() - callsBefore).toBe(1)
    for (const answer of answers) {
      expect(answer.status).toBe(503)
      const body = JSON.parse(answer.text) as { error: { code: string; message: string } }
      expect(body.error).toEqual({
        code: 'ERR_POOL_EXHAUSTED',
        message: expect.stringMatching(
          /^No account can take this request: 2 accounts rate-limited until .+ UTC, 1 needs sign-in \(run: codex-broker login\)\.$/,
        ) as unknown,
      })
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(HOUR_S - 60)
    }
  })
})

describe('affinity', () => {
  it('100 requests of one conversation (prompt_cache_key) stay on one account under round-robin', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    all200(await sequential(f, 100, () => poolBody({ prompt_cache_key: 'conv-1' })))
    expect([...f.answered()].sort((x, y) => y - x)).toEqual([100, 0, 0])
    // Positive control: without the key the same pool rotates.
    const before = f.answered()
    all200(await sequential(f, 3))
    expect(diff(f.answered(), before)).toEqual([1, 1, 1])
  })

  it('100 requests with one session-id header stay on one account under round-robin', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    // Another conversation first, so the session does not simply start on the first account.
    all200(await sequential(f, 1))
    all200(await sequential(f, 100, undefined, { 'session-id': 'session-42' }))
    expect(f.answered()).toEqual([1, 100, 0])
  })

  it('a conversation whose account cools down moves, and stays where it moved', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const body = () => poolBody({ prompt_cache_key: 'conv-2' })
    all200(await sequential(f, 5, body))
    expect(f.answered()).toEqual([5, 0, 0])
    const [a] = f.accounts
    if (a === undefined) throw new Error('no account')
    f.sim.control.setQuota({
      accountId: a.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: HOUR_S,
    })
    all200(await sequential(f, 10, body))
    const moved = diff(f.answered(), [5, 0, 0])
    expect([...moved].sort((x, y) => y - x)).toEqual([10, 0, 0])
    expect(moved[0]).toBe(0)
  })
})

describe('strategies distribute as documented', () => {
  it('round-robin: 30 requests without a key, exactly 10 each', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    all200(await sequential(f, 30))
    expect(f.answered()).toEqual([10, 10, 10])
  })

  it('sticky: 30 requests stay on the first account', async () => {
    const f = await usePoolProxy({ strategy: 'sticky' })
    all200(await sequential(f, 30))
    expect(f.answered()).toEqual([30, 0, 0])
  })

  it('least-used: follows the headroom the answers report', async () => {
    const f = await usePoolProxy({ strategy: 'least-used' })
    const [a, b, c] = f.accounts
    if (a === undefined || b === undefined || c === undefined) throw new Error('no accounts')
    f.sim.control.setQuota({ accountId: a.accountId, primaryUsedPercent: 80 })
    f.sim.control.setQuota({ accountId: b.accountId, primaryUsedPercent: 10 })
    f.sim.control.setQuota({ accountId: c.accountId, primaryUsedPercent: 50 })
    // One pick each to learn the readings (no reading counts as 0 %), then the most headroom: B.
    all200(await sequential(f, 30))
    expect(f.answered()).toEqual([1, 28, 1])
    // The readings change: C now has the most headroom.
    f.sim.control.setQuota({ accountId: b.accountId, primaryUsedPercent: 90 })
    f.sim.control.setQuota({ accountId: c.accountId, primaryUsedPercent: 5 })
    all200(await sequential(f, 10))
    // One more to B reads its 90 %; the rest go to C.
    expect(diff(f.answered(), [1, 28, 1])).toEqual([0, 1, 9])
  })
})

describe('1,000 concurrent requests while one account cools down', () => {
  it('none reaches the cooling account and all succeed', { timeout: 20_000 }, async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const [a] = f.accounts
    if (a === undefined) throw new Error('no account')
    f.sim.control.setQuota({
      accountId: a.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: HOUR_S,
    })
    all200(await sequential(f, 1))
    // The simulator would answer A again: only the pool's cooldown keeps requests away from it.
    f.sim.control.setQuota({ accountId: a.accountId, primaryUsedPercent: 0 })
    const before = f.answered()
    const callsBefore = f.responsesCalls()
    const statuses = await Promise.all(
      Array.from({ length: 1_000 }, async () => (await f.post()).status),
    )
    all200(statuses)
    const moved = diff(f.answered(), before)
    expect(moved[0]).toBe(0)
    expect((moved[1] ?? 0) + (moved[2] ?? 0)).toBe(1_000)
    expect(f.responsesCalls() - callsBefore).toBe(1_000)
    // Positive control: past the cooldown, A takes its share.
    f.clock.advance((HOUR_S + 5) * 1000)
    all200(await sequential(f, 3))
    expect(diff(f.answered(), before)[0]).toBe(1)
  })
})

describe('failover only before the first byte', () => {
  it('a stream cut mid-way is not retried on another account: the client gets the error event', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    f.sim.control.configure({ streamChunks: 6 })
    f.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    const callsBefore = f.responsesCalls()
    const cut = await f.post()
    expect(cut.status).toBe(200)
    expect(cut.text).toContain('event: response.created')
    expect(cut.text).toMatch(/event: error\ndata: .*"ERR_STREAM_CUT"/)
    expect(cut.text).not.toContain('event: response.completed')
    expect(f.responsesCalls() - callsBefore).toBe(1)
    // Positive control: the next request streams to its end, on one call.
    const whole = await f.post()
    expect(whole.text).toContain('event: response.completed')
    expect(whole.text).not.toContain('event: error')
    expect(f.responsesCalls() - callsBefore).toBe(2)
  })

  it('a 500 before the first byte is retried on another account', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    f.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: '500' })
    const answer = await f.post()
    expect(answer.status).toBe(200)
    expect(answer.text).toContain('event: response.completed')
    expect(f.answered()).toEqual([0, 1, 0])
    expect(f.responsesCalls()).toBe(2)
  })
})

describe('no secret leaks', () => {
  it('no issued secret shows in any answer or error message', async () => {
    const f = await usePoolProxy({ strategy: 'round-robin' })
    const [a, b, c] = f.accounts
    if (a === undefined || b === undefined || c === undefined) throw new Error('no accounts')
    const texts: string[] = []
    const collect = async (headers: Record<string, string> = {}) => {
      const answer = await f.post(poolBody(), headers)
      texts.push(answer.text, JSON.stringify(answer.headers))
    }
    await collect()
    f.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    await collect()
    f.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: '401' })
    await collect()
    f.sim.control.revokeAccount({ accountId: c.accountId })
    for (const account of [a, b]) {
      f.sim.control.setQuota({
        accountId: account.accountId,
        primaryUsedPercent: 100,
        resetsInSeconds: HOUR_S,
      })
    }
    await collect()
    await collect({ 'session-id': 's' })
    texts.push(...f.logs)
    const everything = texts.join('\n')
    // Positive control: the scan reads real answers (a completed stream and the pool's error are in it).
    expect(everything).toContain('response.completed')
    expect(everything).toContain('ERR_POOL_EXHAUSTED')
    const issued = f.sim.control.issued()
    expect(issued.length).toBeGreaterThan(6)
    for (const secret of issued) expect(everything).not.toContain(secret)
  })
})
