/**
 * TokenManager against the simulator, end to end: the real refresh request of src/oauth over loopback, the real
 * FileCredentialStore in a private temporary home, the simulator's strict rotation and counters. The simulator and
 * the manager share a clock offset, so "an hour later" is one assignment instead of an hour.
 */
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type Clock, isBrokerError, Secret, systemClock } from '../../src/lib/index.js'
import type { IssuerConfig } from '../../src/oauth/token-response.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { FileCredentialStore } from '../../src/store/file-credential-store.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { TokenManager } from '../../src/tokens/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import { revealed } from './fixtures.js'

const MINUTE = 60_000

async function setup() {
  let offset = 0
  const clock: Clock = {
    now: () => Date.now() + offset,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const sim = await useSimulator({ now: () => clock.now() })
  const signedIn = await signIn(sim, { email: 'tokens@example.com' })
  const home = await makeTempDir()
  const store = new FileCredentialStore({ home: `${home}/broker` })
  await store.put(
    accountFromSignIn(
      {
        idToken: Secret.from(signedIn.idToken),
        accessToken: Secret.from(signedIn.accessToken),
        refreshToken: Secret.from(signedIn.refreshToken),
        expiresIn: null,
      },
      { now: clock.now() },
    ),
  )
  const issuer: IssuerConfig = { issuer: sim.issuer, clientId: CODEX_CLIENT_ID }
  const manager = () => new TokenManager({ store, issuer, clock })
  const managerAt = (url: string) =>
    new TokenManager({ store, issuer: { ...issuer, issuer: url }, clock })
  return {
    managerAt,
    sim,
    store,
    signedIn,
    accountId: signedIn.accountId,
    manager,
    advance: (ms: number) => {
      offset += ms
    },
  }
}

async function usage(sim: Simulator, token: Secret, accountId: string): Promise<number> {
  const response = await fetch(`${sim.backendBase}/wham/usage`, {
    headers: { authorization: `Bearer ${token.reveal()}`, 'chatgpt-account-id': accountId },
  })
  await response.arrayBuffer()
  return response.status
}

const relays: (() => void)[] = []
afterEach(() => {
  for (const close of relays.splice(0)) close()
})

/**
 * A relay in front of the issuer that forwards each request, lets the issuer answer in full (so a refresh is
 * spent and rotated there), then drops the connection instead of passing the answer on: a lost answer.
 */
async function answerLosingRelay(target: string): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      void fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: Buffer.concat(chunks),
      })
        .then((answer) => answer.arrayBuffer())
        .finally(() => res.socket?.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  relays.push(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
}

function tokenRequests(sim: Simulator): number {
  return sim.control.counters().requests['/oauth/token'] ?? 0
}

describe('TokenManager with the simulator', () => {
  it('RT-04: 1,000 concurrent getAccessToken at expiry → exactly one refresh at the issuer', async () => {
    const { sim, store, accountId, manager, advance } = await setup()
    const tokens = manager()
    const first = await tokens.getAccessToken(accountId)
    expect(await usage(sim, first.accessToken, accountId)).toBe(200)
    advance(57 * MINUTE) // exp is 3 minutes away
    const before = sim.control.counters()
    const grants = await Promise.all(
      Array.from({ length: 1_000 }, () => tokens.getAccessToken(accountId)),
    )
    const after = sim.control.counters()
    expect(after.refreshCalls - before.refreshCalls).toBe(1)
    expect(after.reuseEvents).toBe(0)
    expect(after.revokedFamilies).toBe(0)
    const values = new Set(grants.map((g) => g.accessToken.reveal()))
    expect(values.size).toBe(1)
    expect(values.has(first.accessToken.reveal())).toBe(false)
    const [grant] = grants
    if (grant === undefined) throw new Error('no grant')
    expect(grant.chatgptAccountId).toBe(accountId)
    expect(await usage(sim, grant.accessToken, accountId)).toBe(200)
    const body = sim.control.requests('/oauth/token').at(-1)?.body ?? ''
    expect(JSON.parse(body)).toMatchObject({
      grant_type: 'refresh_token',
      refresh_reason: 'proactive_expiry',
    })
    expect((await stat(store.path)).mode & 0o777).toBe(0o600)
    // a second manager over the same home ("another process") adopts: no further refresh
    const adopted = await manager().getAccessToken(accountId)
    expect(adopted.accessToken.reveal()).toBe(grant.accessToken.reveal())
    expect(sim.control.counters().refreshCalls).toBe(after.refreshCalls)
  })

  it('a transient 500 at the token endpoint keeps the credentials; the next call succeeds', async () => {
    const { sim, store, accountId, manager, advance } = await setup()
    const tokens = manager()
    advance(58 * MINUTE)
    const before = await store.get(accountId)
    if (before === null) throw new Error('missing')
    sim.control.injectFault({ route: '/oauth/token', kind: '500', count: 1 })
    const requestsBefore = tokenRequests(sim)
    const error: unknown = await tokens.getAccessToken(accountId).catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect(tokenRequests(sim) - requestsBefore).toBe(1)
    const kept = await store.get(accountId)
    if (kept === null) throw new Error('missing')
    expect(kept.status).toBe('active')
    expect(kept.statusReason).toBeNull()
    expect(revealed(kept)).toEqual(revealed(before))
    const grant = await tokens.getAccessToken(accountId)
    expect(tokenRequests(sim) - requestsBefore).toBe(2)
    expect(await usage(sim, grant.accessToken, accountId)).toBe(200)
    expect(sim.control.counters().reuseEvents).toBe(0)
  })

  it('a revoked sign-in (refresh_token_invalidated) becomes needs_login; credentials kept; no further sends', async () => {
    const { sim, store, accountId, manager, advance } = await setup()
    const tokens = manager()
    advance(58 * MINUTE)
    const before = await store.get(accountId)
    if (before === null) throw new Error('missing')
    sim.control.revokeAccount({ accountId })
    const requestsBefore = tokenRequests(sim)
    const error: unknown = await tokens.getAccessToken(accountId).catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_NEEDS_LOGIN')).toBe(true)
    const after = await store.get(accountId)
    if (after === null) throw new Error('credentials deleted')
    expect(after.status).toBe('needs_login')
    expect(after.statusReason).toBe('ERR_REFRESH_REVOKED')
    expect(revealed(after)).toEqual(revealed(before))
    expect(tokenRequests(sim) - requestsBefore).toBe(1)
    // remembered, in this process and in another one
    for (const m of [tokens, manager()]) {
      const again: unknown = await m.getAccessToken(accountId).catch((e: unknown) => e)
      expect(isBrokerError(again, 'ERR_NEEDS_LOGIN')).toBe(true)
    }
    expect(tokenRequests(sim) - requestsBefore).toBe(1)
  })

  it('RT-05: a refresh whose answer is lost is never sent again; the account asks for a sign-in', async () => {
    const { sim, store, accountId, managerAt, manager, advance } = await setup()
    advance(58 * MINUTE)
    const before = await store.get(accountId)
    if (before === null) throw new Error('missing')
    const relay = await answerLosingRelay(sim.issuer)
    const error: unknown = await managerAt(relay)
      .getAccessToken(accountId)
      .catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_NEEDS_LOGIN')).toBe(true)
    // The issuer did rotate: the answer was lost on the way back.
    expect(sim.control.counters().refreshCalls).toBe(1)
    const after = await store.get(accountId)
    if (after === null) throw new Error('credentials deleted')
    expect(after.status).toBe('needs_login')
    expect(revealed(after)).toEqual(revealed(before))
    // No process presents the possibly spent token again: no reuse, no revoked sign-in.
    for (const m of [manager(), manager()]) {
      const again: unknown = await m.getAccessToken(accountId).catch((e: unknown) => e)
      expect(isBrokerError(again, 'ERR_NEEDS_LOGIN')).toBe(true)
    }
    expect(sim.control.counters().refreshCalls).toBe(1)
    expect(sim.control.counters().reuseEvents).toBe(0)
    expect(sim.control.counters().revokedFamilies).toBe(0)
  })

  it('RT-05 control: a refresh that never left (connection refused) is tried again and succeeds', async () => {
    const { sim, store, accountId, managerAt, manager, advance } = await setup()
    advance(58 * MINUTE)
    const relay = await answerLosingRelay(sim.issuer)
    const closedPort = new URL(relay).port
    relays.splice(0).forEach((close) => {
      close()
    })
    const error: unknown = await managerAt(`http://127.0.0.1:${closedPort}`)
      .getAccessToken(accountId)
      .catch((e: unknown) => e)
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect((await store.get(accountId))?.status).toBe('active')
    expect(sim.control.counters().refreshCalls).toBe(0)
    const grant = await manager().getAccessToken(accountId)
    expect(await usage(sim, grant.accessToken, accountId)).toBe(200)
    expect(sim.control.counters().refreshCalls).toBe(1)
    expect(sim.control.counters().reuseEvents).toBe(0)
  })

  it('recoverUnauthorized: a backend 401 → one unauthorized_recovery refresh → the retry works', async () => {
    const { sim, accountId, manager } = await setup()
    const tokens = manager()
    const grant = await tokens.getAccessToken(accountId)
    sim.control.injectFault({ route: '/backend-api/wham/usage', kind: '401', count: 1 })
    expect(await usage(sim, grant.accessToken, accountId)).toBe(401)
    const recovered = await tokens.recoverUnauthorized(accountId, grant.accessToken)
    expect(recovered.accessToken.reveal()).not.toBe(grant.accessToken.reveal())
    expect(await usage(sim, recovered.accessToken, accountId)).toBe(200)
    const body = sim.control.requests('/oauth/token').at(-1)?.body ?? ''
    expect(JSON.parse(body)).toMatchObject({ refresh_reason: 'unauthorized_recovery' })
    expect(sim.control.counters().refreshCalls).toBe(1)
  })
})
