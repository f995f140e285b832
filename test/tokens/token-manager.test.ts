/**
 * TokenManager unit tests (DESIGN.md "Refresh", SECURITY.md C5 / RT-01, RT-04…RT-06): a manual clock, a fake
 * issuer with strict rotation that records every refresh token it is sent, and an in-memory store with a real
 * per-account lock. Several managers over one store stand in for several processes sharing a home.
 */
import { describe, expect, it } from 'vitest'
import {
  BrokerError,
  isBrokerError,
  ManualClock,
  Secret,
  type BrokerErrorCode,
} from '../../src/lib/index.js'
import {
  INTERRUPTED_REFRESH_REASON,
  TokenManager,
  type TokenManagerOptions,
} from '../../src/tokens/index.js'
import { MemoryCredentialStore } from '../../src/store/index.js'
import { expiryOf } from '../../src/tokens/stored-tokens.js'
import { captureLogger, chatgptAccount, FakeIssuer, revealed, TestStore } from './fixtures.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const ID = 'acc_unit'
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

async function setup(options: { ttlMs?: number | null; lastRefresh?: number } = {}) {
  const clock = new ManualClock(T0)
  const issuer = new FakeIssuer(() => clock.now())
  if (options.ttlMs !== undefined) issuer.accessTtlMs = options.ttlMs
  const store = new TestStore()
  const first = issuer.mint(ID)
  await store.put(
    chatgptAccount(ID, first, {
      expiresAt: expiryOf(Secret.from(first.accessToken)),
      lastRefresh: options.lastRefresh ?? T0,
    }),
  )
  const manager = (extra: Partial<TokenManagerOptions> = {}) =>
    new TokenManager({ store, refresh: issuer.refresh, clock, ...extra })
  return { clock, issuer, store, first, manager }
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) await new Promise((resolve) => setImmediate(resolve))
}

async function codeOf(promise: Promise<unknown>): Promise<BrokerErrorCode | 'resolved' | 'other'> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return isBrokerError(error) ? error.code : 'other'
  }
}

describe('TokenManager.getAccessToken', () => {
  it('returns a fresh stored token without refreshing, with the account id of its claims', async () => {
    const { issuer, store, first, manager } = await setup()
    const tokens = manager()
    const grant = await tokens.getAccessToken(ID)
    expect(grant.accessToken.reveal()).toBe(first.accessToken)
    expect(grant.chatgptAccountId).toBe(ID)
    await tokens.getAccessToken(ID)
    expect(issuer.sent).toHaveLength(0)
    // the second call was served from memory: one store read in all
    expect(store.calls.get).toBe(1)
  })

  it('refreshes exactly once with proactive_expiry when exp is within five minutes', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    const tokens = manager()
    await tokens.getAccessToken(ID)
    clock.advance(56 * MINUTE) // exp is 4 minutes away
    const grant = await tokens.getAccessToken(ID)
    expect(issuer.sent).toEqual([{ refreshToken: first.refreshToken, reason: 'proactive_expiry' }])
    expect(grant.accessToken.reveal()).not.toBe(first.accessToken)
    const stored = store.peek(ID)
    expect(stored.status).toBe('active')
    expect(stored.statusReason).toBeNull()
    if (stored.auth.kind !== 'chatgpt') throw new Error('kind')
    expect(stored.auth.accessToken.reveal()).toBe(grant.accessToken.reveal())
    expect(stored.auth.refreshToken.reveal()).not.toBe(first.refreshToken)
    expect(stored.auth.expiresAt).toBe(expiryOf(grant.accessToken))
    expect(stored.auth.expiresAt).toBeGreaterThan(clock.now() + 59 * MINUTE)
    expect(stored.auth.lastRefresh).toBe(clock.now())
    // and the new token is fresh: no further refresh
    await tokens.getAccessToken(ID)
    expect(issuer.sent).toHaveLength(1)
  })

  it('does not refresh at 5 min 1 s before exp (positive control of the window)', async () => {
    const { clock, issuer, manager } = await setup()
    clock.advance(55 * MINUTE - 1_000)
    await manager().getAccessToken(ID)
    expect(issuer.sent).toHaveLength(0)
  })

  it('refreshes with scheduled when there is no exp and the last refresh is 9 days old', async () => {
    const { issuer, first, manager } = await setup({ ttlMs: null, lastRefresh: T0 - 9 * DAY })
    await manager().getAccessToken(ID)
    expect(issuer.sent).toEqual([{ refreshToken: first.refreshToken, reason: 'scheduled' }])
  })

  it('does not refresh a token without exp refreshed 7 days ago', async () => {
    const { issuer, manager } = await setup({ ttlMs: null, lastRefresh: T0 - 7 * DAY })
    await manager().getAccessToken(ID)
    expect(issuer.sent).toHaveLength(0)
  })

  it('RT-01: an answer without refresh_token keeps the old refresh token', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    clock.advance(58 * MINUTE)
    issuer.inject('omit-refresh-token')
    const grant = await manager().getAccessToken(ID)
    const stored = store.peek(ID)
    if (stored.auth.kind !== 'chatgpt') throw new Error('kind')
    expect(stored.auth.refreshToken.reveal()).toBe(first.refreshToken)
    expect(stored.auth.accessToken.reveal()).toBe(grant.accessToken.reveal())
    expect(grant.accessToken.reveal()).not.toBe(first.accessToken)
    // the kept token is still the live one at the issuer: the next refresh succeeds
    clock.advance(58 * MINUTE)
    await manager().getAccessToken(ID)
    expect(issuer.sent.map((s) => s.refreshToken)).toEqual([first.refreshToken, first.refreshToken])
    expect(issuer.reuseEvents).toBe(0)
  })

  it('RT-04: 1,000 concurrent callers at expiry cause exactly 1 refresh call', async () => {
    const { clock, issuer, store, manager } = await setup()
    const tokens = manager()
    await tokens.getAccessToken(ID)
    clock.advance(57 * MINUTE)
    const grants = await Promise.all(Array.from({ length: 1_000 }, () => tokens.getAccessToken(ID)))
    expect(issuer.sent).toHaveLength(1)
    expect(new Set(grants.map((g) => g.accessToken.reveal())).size).toBe(1)
    expect(store.calls.lock).toBe(1)
    // positive control: the next epoch is counted too
    clock.advance(60 * MINUTE)
    await Promise.all(Array.from({ length: 1_000 }, () => tokens.getAccessToken(ID)))
    expect(issuer.sent).toHaveLength(2)
    expect(issuer.reuseEvents).toBe(0)
  })

  it('RT-04: 8 managers ("processes") × 125 callers over one store cause exactly 1 refresh', async () => {
    const { clock, issuer, manager } = await setup()
    const managers = Array.from({ length: 8 }, () => manager())
    await Promise.all(managers.map((m) => m.getAccessToken(ID)))
    clock.advance(57 * MINUTE)
    const grants = await Promise.all(
      managers.flatMap((m) => Array.from({ length: 125 }, () => m.getAccessToken(ID))),
    )
    expect(issuer.sent).toHaveLength(1)
    expect(new Set(grants.map((g) => g.accessToken.reveal())).size).toBe(1)
    expect(issuer.reuseEvents).toBe(0)
  })

  it('a permanent error marks needs_login, keeps the credentials byte-equal, and is remembered', async () => {
    const { clock, issuer, store, manager } = await setup()
    clock.advance(58 * MINUTE)
    const before = revealed(store.peek(ID))
    issuer.inject(new BrokerError('ERR_REFRESH_REVOKED', 'refresh_token_invalidated'))
    const tokens = manager()
    const error: unknown = await tokens.getAccessToken(ID).catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_NEEDS_LOGIN')).toBe(true)
    expect((error as BrokerError).hint).toContain('codex-broker login')
    const after = store.peek(ID)
    expect(after.status).toBe('needs_login')
    expect(after.statusReason).toBe('ERR_REFRESH_REVOKED')
    expect(revealed(after)).toEqual(before)
    // remembered: this manager and a new one ("another process") throw without sending
    expect(await codeOf(tokens.getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(issuer.sent).toHaveLength(1)
    // a new sign-in written to the store is picked up (the block lives in the store, not in memory)
    const relogin = issuer.mint(ID)
    await store.put(
      chatgptAccount(ID, relogin, {
        expiresAt: expiryOf(Secret.from(relogin.accessToken)),
        lastRefresh: clock.now(),
      }),
    )
    const grant = await tokens.getAccessToken(ID)
    expect(grant.accessToken.reveal()).toBe(relogin.accessToken)
    expect(issuer.sent).toHaveLength(1)
  })

  it('a transient error keeps everything, throws ERR_REFRESH_TRANSIENT, and the next call tries again', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    clock.advance(58 * MINUTE)
    const before = store.peek(ID)
    issuer.inject(new BrokerError('ERR_REFRESH_TRANSIENT', 'issuer answered 500'))
    const tokens = manager()
    expect(await codeOf(tokens.getAccessToken(ID))).toBe('ERR_REFRESH_TRANSIENT')
    const after = store.peek(ID)
    expect(after.status).toBe('active')
    expect(after.statusReason).toBeNull()
    expect(revealed(after)).toEqual(revealed(before))
    const grant = await tokens.getAccessToken(ID)
    expect(issuer.sent.map((s) => s.refreshToken)).toEqual([first.refreshToken, first.refreshToken])
    expect(grant.accessToken.reveal()).not.toBe(first.accessToken)
  })

  it('an unknown failure (not a BrokerError) is treated as transient', async () => {
    const { clock, store, manager } = await setup()
    clock.advance(58 * MINUTE)
    const tokens = manager({ refresh: () => Promise.reject(new TypeError('fetch failed')) })
    expect(await codeOf(tokens.getAccessToken(ID))).toBe('ERR_REFRESH_TRANSIENT')
    expect(store.peek(ID).status).toBe('active')
  })

  it('adopts tokens another process rotated: the lagging manager sends nothing', async () => {
    const { clock, issuer, manager } = await setup()
    const a = manager()
    const b = manager()
    const original = await b.getAccessToken(ID)
    clock.advance(57 * MINUTE)
    const rotated = await a.getAccessToken(ID)
    expect(issuer.sent).toHaveLength(1)
    const adopted = await b.getAccessToken(ID)
    expect(issuer.sent).toHaveLength(1)
    expect(adopted.accessToken.reveal()).toBe(rotated.accessToken.reveal())
    expect(adopted.accessToken.reveal()).not.toBe(original.accessToken.reveal())
  })

  it('re-reads under the lock: a manager that waited for the lock adopts instead of refreshing', async () => {
    const { clock, issuer, store, manager } = await setup()
    const a = manager()
    const b = manager()
    clock.advance(57 * MINUTE)
    let release = () => {
      // replaced below
    }
    issuer.gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = a.getAccessToken(ID)
    while (issuer.sent.length === 0) await new Promise((resolve) => setImmediate(resolve))
    // b's lock-free read sees the stale token; it must then wait for the lock, re-read, and adopt
    const second = b.getAccessToken(ID)
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve))
    expect(store.calls.lock).toBe(2)
    issuer.gate = null
    release()
    const [x, y] = await Promise.all([first, second])
    expect(issuer.sent).toHaveLength(1)
    expect(y.accessToken.reveal()).toBe(x.accessToken.reveal())
  })

  it('adopts tokens another process wrote while it waits for the lock, before the lock is free', async () => {
    const { clock, issuer, store, manager } = await setup()
    clock.advance(57 * MINUTE)
    let unlock = () => {
      // replaced below
    }
    // "another process" holds the account lock for its refresh
    const holder = store.withAccountLock(
      ID,
      () =>
        new Promise<void>((resolve) => {
          unlock = resolve
        }),
    )
    let settled = false
    const waiting = manager()
      .getAccessToken(ID)
      .finally(() => {
        settled = true
      })
    await ticks(20)
    const newer = issuer.mint(ID)
    await store.put(
      chatgptAccount(ID, newer, {
        expiresAt: expiryOf(Secret.from(newer.accessToken)),
        lastRefresh: clock.now(),
      }),
    )
    await ticks(20)
    expect(settled).toBe(false) // control: nothing read the store yet (the poll sleeps on the manual clock)
    await clock.advanceAsync(10)
    const grant = await waiting
    expect(grant.accessToken.reveal()).toBe(newer.accessToken)
    unlock()
    await holder
    await ticks(20) // the queued lock task runs, finds the tokens adopted, sends nothing
    expect(store.calls.lock).toBe(2)
    expect(issuer.sent).toHaveLength(0)
  })

  it('RT-06: a lagging manager never sends its old refresh token and never overwrites newer credentials', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    const lagging = manager()
    await lagging.getAccessToken(ID) // holds the first tokens in memory
    clock.advance(57 * MINUTE)
    await manager().getAccessToken(ID) // another process rotates: the store holds newer tokens
    const newer = revealed(store.peek(ID))
    // the issuer would answer refresh_token_reused to the old token (it is spent)
    const grant = await lagging.getAccessToken(ID)
    expect(issuer.sendsOf(first.refreshToken)).toBe(1) // the rotation by the other process only
    expect(issuer.sent).toHaveLength(1)
    expect(issuer.reuseEvents).toBe(0)
    expect(grant.accessToken.reveal()).toBe(newer.accessToken)
    expect(store.peek(ID).status).toBe('active')
    expect(revealed(store.peek(ID))).toEqual(newer)
  })

  it('RT-06: when the newer stored tokens are also stale, the lagging manager refreshes with the stored one', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    const lagging = manager()
    await lagging.getAccessToken(ID)
    clock.advance(57 * MINUTE)
    await manager().getAccessToken(ID)
    const stored = store.peek(ID)
    if (stored.auth.kind !== 'chatgpt') throw new Error('kind')
    const newerRefreshToken = stored.auth.refreshToken.reveal()
    clock.advance(57 * MINUTE) // the other process's tokens are now stale too
    await lagging.getAccessToken(ID)
    expect(issuer.sent.map((s) => s.refreshToken)).toEqual([first.refreshToken, newerRefreshToken])
    expect(issuer.reuseEvents).toBe(0)
  })

  it('C5.5: a permanent error for a token another process replaced meanwhile marks nothing', async () => {
    const { clock, issuer, store, manager } = await setup()
    clock.advance(58 * MINUTE)
    // Another process writes newer tokens while this one's request is out (as if the lock had been broken),
    // and the issuer answers refresh_token_reused to this one.
    const newer = issuer.mint(ID)
    const tokens = manager({
      refresh: async () => {
        await store.update(ID, (current) => ({
          ...chatgptAccount(ID, newer, {
            expiresAt: expiryOf(Secret.from(newer.accessToken)),
            lastRefresh: clock.now(),
          }),
          addedAt: current.addedAt,
        }))
        throw new BrokerError('ERR_REFRESH_REUSED', 'refresh_token_reused')
      },
    })
    const code = await codeOf(tokens.getAccessToken(ID))
    expect(code).toBe('ERR_REFRESH_TRANSIENT')
    const after = store.peek(ID)
    expect(after.status).toBe('active')
    expect(revealed(after).refreshToken).toBe(newer.refreshToken)
    // positive control: with no interference the same error does mark needs_login
    const again = await setup()
    again.clock.advance(58 * MINUTE)
    const plain = again.manager({
      refresh: () => Promise.reject(new BrokerError('ERR_REFRESH_REUSED', 'refresh_token_reused')),
    })
    expect(await codeOf(plain.getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(again.store.peek(ID).status).toBe('needs_login')
  })

  it('C5.4: a refresh left in flight by a crashed holder is never resent; the account needs login', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    clock.advance(58 * MINUTE)
    const before = revealed(store.peek(ID))
    // what a process killed between sending and writing leaves behind
    await store.update(ID, (current) => ({ ...current, refreshInFlightSince: clock.now() - 1000 }))
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(issuer.sendsOf(first.refreshToken)).toBe(0)
    const after = store.peek(ID)
    expect(after.status).toBe('needs_login')
    expect(after.statusReason).toBe(INTERRUPTED_REFRESH_REASON)
    expect(after.refreshInFlightSince).toBeNull()
    expect(revealed(after)).toEqual(before)
  })

  it('C5.4: the in-flight mark is set while the request is out and cleared with the answer', async () => {
    const { clock, issuer, store, manager } = await setup()
    clock.advance(58 * MINUTE)
    const markedAt = clock.now()
    let seen: { since: number | null | undefined; reason: string | null } | null = null
    const tokens = manager({
      refresh: async (refreshToken, reason) => {
        const during = store.peek(ID)
        seen = { since: during.refreshInFlightSince, reason: during.statusReason }
        return issuer.refresh(refreshToken, reason)
      },
    })
    await tokens.getAccessToken(ID)
    // the mark has its own field: the user-visible status reason is untouched
    expect(seen).toEqual({ since: markedAt, reason: null })
    const after = store.peek(ID)
    expect(after.refreshInFlightSince).toBeNull()
    expect(after.statusReason).toBeNull()
    expect(after.status).toBe('active')
  })

  it('C5.4: the in-flight mark is cleared by a permanent and by a transient failure', async () => {
    const permanent = await setup()
    permanent.clock.advance(58 * MINUTE)
    const rejecting = permanent.manager({
      refresh: () => Promise.reject(new BrokerError('ERR_REFRESH_REVOKED', 'revoked')),
    })
    expect(await codeOf(rejecting.getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(permanent.store.peek(ID)).toMatchObject({
      status: 'needs_login',
      statusReason: 'ERR_REFRESH_REVOKED',
      refreshInFlightSince: null,
    })

    const transient = await setup()
    transient.clock.advance(58 * MINUTE)
    const failing = transient.manager({
      refresh: () => Promise.reject(new BrokerError('ERR_REFRESH_TRANSIENT', 'down')),
    })
    expect(await codeOf(failing.getAccessToken(ID))).toBe('ERR_REFRESH_TRANSIENT')
    expect(transient.store.peek(ID)).toMatchObject({
      status: 'active',
      statusReason: null,
      refreshInFlightSince: null,
    })
  })

  it('answers ERR_NEEDS_LOGIN for needs_login and disabled accounts, ERR_NOT_FOUND for unknown ones', async () => {
    const { store, issuer, manager } = await setup()
    await store.update(ID, (current) => ({ ...current, status: 'disabled' }))
    const error: unknown = await manager()
      .getAccessToken(ID)
      .catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_NEEDS_LOGIN')).toBe(true)
    expect((error as BrokerError).hint).toContain('codex-broker login')
    await store.update(ID, (current) => ({
      ...current,
      status: 'needs_login',
      statusReason: 'ERR_REFRESH_EXPIRED',
    }))
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(await codeOf(manager().getAccessToken('nobody'))).toBe('ERR_NOT_FOUND')
    expect(issuer.sent).toHaveLength(0)
  })

  it('API-key accounts: getAccessToken refuses clearly, getCredential answers the key', async () => {
    const { store, manager } = await setup()
    await store.put({
      id: 'apikey-1',
      label: null,
      email: null,
      plan: null,
      auth: { kind: 'apiKey', apiKey: Secret.from('sk-proj-unit-test-key') },
      status: 'active',
      statusReason: null,
      addedAt: T0,
      lastUsedAt: null,
    })
    const tokens = manager()
    expect(await codeOf(tokens.getAccessToken('apikey-1'))).toBe('ERR_INVALID_REQUEST')
    const credential = await tokens.getCredential('apikey-1')
    expect(credential.kind).toBe('apiKey')
    if (credential.kind !== 'apiKey') throw new Error('kind')
    expect(credential.apiKey.reveal()).toBe('sk-proj-unit-test-key')
    const chatgpt = await tokens.getCredential(ID)
    expect(chatgpt.kind).toBe('chatgpt')
  })

  it('forget drops the memory: the next call reads the store again', async () => {
    const { clock, issuer, store, first, manager } = await setup()
    const tokens = manager()
    await tokens.getAccessToken(ID)
    const relogin = issuer.mint(ID)
    await store.put(
      chatgptAccount(ID, relogin, {
        expiresAt: expiryOf(Secret.from(relogin.accessToken)),
        lastRefresh: clock.now(),
      }),
    )
    expect((await tokens.getAccessToken(ID)).accessToken.reveal()).toBe(first.accessToken)
    tokens.forget(ID)
    expect((await tokens.getAccessToken(ID)).accessToken.reveal()).toBe(relogin.accessToken)
  })

  it('an aborted caller stops waiting; the refresh completes for everyone else', async () => {
    const { clock, issuer, manager } = await setup()
    const tokens = manager()
    clock.advance(58 * MINUTE)
    let release = () => {
      // replaced below
    }
    issuer.gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const controller = new AbortController()
    const aborted = tokens.getAccessToken(ID, { signal: controller.signal })
    const patient = tokens.getAccessToken(ID)
    controller.abort(new Error('client went away'))
    await expect(aborted).rejects.toThrow('client went away')
    release()
    const grant = await patient
    expect(issuer.sent).toHaveLength(1)
    expect((await tokens.getAccessToken(ID)).accessToken.reveal()).toBe(grant.accessToken.reveal())
  })

  it('logs refresh events with the account id and reason, never a token', async () => {
    const { clock, issuer, store, manager } = await setup()
    const { logger, lines } = captureLogger()
    const tokens = manager({ logger })
    const other = manager()
    await tokens.getAccessToken(ID)
    clock.advance(58 * MINUTE)
    await other.getAccessToken(ID) // another process rotates
    await tokens.getAccessToken(ID) // adopted
    clock.advance(58 * MINUTE)
    await tokens.getAccessToken(ID) // refreshed
    clock.advance(58 * MINUTE)
    issuer.inject(new BrokerError('ERR_REFRESH_EXPIRED', 'refresh_token_expired'))
    await tokens.getAccessToken(ID).catch(() => undefined)
    const events = lines.map((line) => (JSON.parse(line) as { event?: string }).event)
    expect(events).toEqual([
      'refresh.adopted',
      'refresh.start',
      'refresh.ok',
      'refresh.start',
      'refresh.failed',
    ])
    const failed = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>
    expect(failed).toMatchObject({
      accountId: ID,
      reason: 'proactive_expiry',
      code: 'ERR_REFRESH_EXPIRED',
      permanent: true,
    })
    const stored = store.peek(ID)
    if (stored.auth.kind !== 'chatgpt') throw new Error('kind')
    const everyToken = [
      ...issuer.sent.map((s) => s.refreshToken),
      stored.auth.accessToken.reveal(),
      stored.auth.idToken.reveal(),
    ]
    const text = lines.join('\n')
    for (const token of everyToken) expect(text).not.toContain(token)
  })
})

describe('TokenManager.recoverUnauthorized', () => {
  it('uses the stored token when another process already rotated (no refresh)', async () => {
    const { clock, issuer, manager } = await setup()
    const a = manager()
    const b = manager()
    const rejected = await b.getAccessToken(ID)
    clock.advance(57 * MINUTE)
    const rotated = await a.getAccessToken(ID)
    const recovered = await b.recoverUnauthorized(ID, rejected.accessToken)
    expect(recovered.accessToken.reveal()).toBe(rotated.accessToken.reveal())
    expect(issuer.sent).toHaveLength(1)
  })

  it('refreshes once with unauthorized_recovery when the store holds the rejected token', async () => {
    const { issuer, first, manager } = await setup()
    const tokens = manager()
    const rejected = await tokens.getAccessToken(ID)
    const results = await Promise.all(
      Array.from({ length: 100 }, () => tokens.recoverUnauthorized(ID, rejected.accessToken)),
    )
    expect(issuer.sent).toEqual([
      { refreshToken: first.refreshToken, reason: 'unauthorized_recovery' },
    ])
    const values = new Set(results.map((r) => r.accessToken.reveal()))
    expect(values.size).toBe(1)
    expect(values.has(first.accessToken)).toBe(false)
    // the recovered token is served from memory afterwards
    expect((await tokens.getAccessToken(ID)).accessToken.reveal()).toBe([...values][0])
    expect(issuer.sent).toHaveLength(1)
  })

  it('a recovery that joins a plain flight adopting the rejected token still refreshes', async () => {
    const { issuer, first, manager } = await setup()
    const tokens = manager()
    const plain = tokens.getAccessToken(ID) // loads the (fresh) first token from the store
    const recovered = tokens.recoverUnauthorized(ID, Secret.from(first.accessToken))
    expect((await plain).accessToken.reveal()).toBe(first.accessToken)
    expect((await recovered).accessToken.reveal()).not.toBe(first.accessToken)
    expect(issuer.sent.map((s) => s.reason)).toEqual(['unauthorized_recovery'])
  })
})

describe('TokenManager over the real MemoryCredentialStore', () => {
  function memorySetup() {
    const clock = new ManualClock(T0)
    const issuer = new FakeIssuer(() => clock.now())
    const first = issuer.mint(ID)
    const store = new MemoryCredentialStore({
      accounts: [
        chatgptAccount(ID, first, {
          expiresAt: expiryOf(Secret.from(first.accessToken)),
          lastRefresh: T0,
        }),
      ],
    })
    const manager = () => new TokenManager({ store, refresh: issuer.refresh, clock })
    return { clock, issuer, store, first, manager }
  }

  it('RT-04: 8 managers × 125 callers at expiry → exactly 1 refresh, everyone gets the new token', async () => {
    const { clock, issuer, manager } = memorySetup()
    const managers = Array.from({ length: 8 }, () => manager())
    await Promise.all(managers.map((m) => m.getAccessToken(ID)))
    clock.advance(57 * MINUTE)
    const grants = await Promise.all(
      managers.flatMap((m) => Array.from({ length: 125 }, () => m.getAccessToken(ID))),
    )
    expect(issuer.sent).toHaveLength(1)
    expect(new Set(grants.map((g) => g.accessToken.reveal())).size).toBe(1)
    expect(issuer.reuseEvents).toBe(0)
  })

  it('a permanent failure keeps the credentials and marks needs_login; a transient one keeps everything', async () => {
    const { clock, issuer, store, manager } = memorySetup()
    clock.advance(58 * MINUTE)
    const before = await store.get(ID)
    if (before === null) throw new Error('missing')
    issuer.inject(new BrokerError('ERR_REFRESH_TRANSIENT', '503'))
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_REFRESH_TRANSIENT')
    const kept = await store.get(ID)
    if (kept === null) throw new Error('missing')
    expect(kept.status).toBe('active')
    expect(revealed(kept)).toEqual(revealed(before))
    issuer.inject(new BrokerError('ERR_REFRESH_REUSED', 'refresh_token_reused'))
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    const marked = await store.get(ID)
    if (marked === null) throw new Error('credentials deleted')
    expect(marked.status).toBe('needs_login')
    expect(marked.statusReason).toBe('ERR_REFRESH_REUSED')
    expect(revealed(marked)).toEqual(revealed(before))
    expect(await codeOf(manager().getAccessToken(ID))).toBe('ERR_NEEDS_LOGIN')
    expect(issuer.sent).toHaveLength(2)
  })
})
