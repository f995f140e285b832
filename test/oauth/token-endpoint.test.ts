/**
 * The token endpoint grants against the simulator: the code exchange (form body, all three tokens required,
 * issuer detail without the body), refresh (JSON body, exactly one request per call, the PROTOCOL.md §4
 * classification for reuse, expiry, revocation, unknown tokens, 401, 500, network errors, timeouts, redirects
 * and unreadable answers), the API-key exchange and revocation — and no token in any error.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { BrokerError, isBrokerError, Secret } from '../../src/lib/index.js'
import {
  classifyRefreshFailure,
  exchangeAuthorizationCode,
  exchangeForApiKey,
  isAmbiguousRefreshFailure,
  isPermanentRefreshError,
  issuerErrorCode,
  issuerErrorDetail,
  processCodeExchangeResponse,
  processRefreshResponse,
  refreshTokens,
  revokeRefreshToken,
  type RefreshTransientError,
} from '../../src/oauth/index.js'
import type { Simulator } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import {
  authorizeCodeFor,
  cannedFetch,
  freePorts,
  issuerOf,
  jsonResponse,
  rejectionOf,
} from './support.js'

const openServers: (Server | HttpServer)[] = []
const openSockets = new Set<Socket>()

afterEach(async () => {
  for (const socket of openSockets) socket.destroy()
  openSockets.clear()
  await Promise.all(
    openServers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve()
          })
        }),
    ),
  )
})

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<number> {
  const server = createServer((socket) => {
    openSockets.add(socket)
  })
  openServers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** An HTTP server that counts requests (a redirect target that must never be visited). */
async function countingServer(): Promise<{ url: string; hits: () => number }> {
  let hits = 0
  const server = createHttpServer((_req, res) => {
    hits += 1
    res.end('{}')
  })
  openServers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${address.port}/stolen`, hits: () => hits }
}

/** Requests to `/oauth/token` with a given grant type, as the simulator recorded them. */
function tokenRequests(sim: Simulator, grantType: string) {
  return sim.control.requests('/oauth/token').filter((request) => {
    const body = request.body ?? ''
    const type = request.headers['content-type']
    if (typeof type === 'string' && type.startsWith('application/json')) {
      return (JSON.parse(body) as Record<string, unknown>).grant_type === grantType
    }
    return new URLSearchParams(body).get('grant_type') === grantType
  })
}

/** Asserts that no issued secret (and no given value) appears in the error's visible forms. */
function expectNoSecrets(error: unknown, sim: Simulator | null, extra: string[] = []): void {
  const visible = [
    String(error),
    error instanceof Error ? error.message : '',
    JSON.stringify(error),
    isBrokerError(error) ? (error.hint ?? '') : '',
  ].join('\n')
  for (const secret of [...(sim?.control.issued() ?? []), ...extra]) {
    expect(visible).not.toContain(secret)
  }
}

describe('exchangeAuthorizationCode', () => {
  it('exchanges a code with the form body of PROTOCOL.md §2 (positive control)', async () => {
    const sim = await useSimulator()
    const { code, codeVerifier, redirectUri } = await authorizeCodeFor(sim, 'x@example.com')
    const tokens = await exchangeAuthorizationCode(issuerOf(sim), {
      code: Secret.from(code),
      redirectUri,
      codeVerifier,
    })
    expect(sim.control.issued()).toEqual(
      expect.arrayContaining([
        tokens.idToken.reveal(),
        tokens.accessToken.reveal(),
        tokens.refreshToken.reveal(),
      ]),
    )
    expect(tokens.expiresIn).toBe(3600)
    const [request] = tokenRequests(sim, 'authorization_code')
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect([...new URLSearchParams(request?.body ?? '').keys()]).toEqual([
      'grant_type',
      'client_id',
      'code',
      'redirect_uri',
      'code_verifier',
    ])
  })

  it('a replayed code is refused with the issuer detail and no code in the error', async () => {
    const sim = await useSimulator()
    const input = await authorizeCodeFor(sim, 'x@example.com')
    await exchangeAuthorizationCode(issuerOf(sim), input)
    const error = await rejectionOf(exchangeAuthorizationCode(issuerOf(sim), input))
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expect((error as Error).message).toContain('The authorization code has already been used')
    expect((error as Error).message).toContain('HTTP 400')
    expectNoSecrets(error, sim, [input.code, input.codeVerifier])
  })

  it('requires all three tokens', async () => {
    const { fetch } = cannedFetch(() =>
      jsonResponse(200, { id_token: 'a.b.c', access_token: 'a.b.c', expires_in: 10 }),
    )
    const error = await rejectionOf(
      exchangeAuthorizationCode(
        { issuer: 'https://auth.example.com', clientId: 'c', fetch },
        { code: 'c', redirectUri: 'r', codeVerifier: 'v' },
      ),
    )
    expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
    expect((error as Error).message).toMatch(/id_token, access_token and refresh_token/)
  })

  it('a 5xx is ERR_UPSTREAM_UNAVAILABLE, a redirect is never followed', async () => {
    const sim = await useSimulator()
    const target = await countingServer()
    sim.control.configure({ redirectFaultLocation: target.url })
    const input = await authorizeCodeFor(sim, 'x@example.com')
    sim.control.injectFault({ route: '/oauth/token', kind: '500' })
    const failed = await rejectionOf(exchangeAuthorizationCode(issuerOf(sim), input))
    expect(isBrokerError(failed, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
    sim.control.injectFault({ route: '/oauth/token', kind: 'redirect' })
    const redirected = await rejectionOf(exchangeAuthorizationCode(issuerOf(sim), input))
    expect(isBrokerError(redirected, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
    expect((redirected as Error).message).toMatch(/redirect \(HTTP 302\)/)
    expect(target.hits()).toBe(0)
  })

  it('the processor takes recorded answers; the detail never includes the raw body', async () => {
    const body = 'upstream exploded: refresh_token=abcdefghijklmnopqrstuvwxyz0123456789'
    const error = await rejectionOf(
      processCodeExchangeResponse(new Response(body, { status: 400 })),
    )
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expect((error as Error).message).toBe(
      'The issuer refused the authorization code exchange (HTTP 400: HTTP 400).',
    )
  })
})

describe('issuer error readers', () => {
  it('detail order: error_description, error.message, error (string) or error.code, else the status', () => {
    expect(
      issuerErrorDetail({ error_description: 'd', error: { message: 'm', code: 'c' } }, 400),
    ).toBe('d')
    expect(issuerErrorDetail({ error: { message: 'm', code: 'c' } }, 400)).toBe('m')
    expect(issuerErrorDetail({ error: 's' }, 400)).toBe('s')
    expect(issuerErrorDetail({ error: { code: 'c' } }, 400)).toBe('c')
    expect(issuerErrorDetail({ detail: 'secret body' }, 418)).toBe('HTTP 418')
    expect(issuerErrorDetail('x'.repeat(1000), 500)).toBe('HTTP 500')
    expect(issuerErrorDetail({ error_description: `a\r\nb${'z'.repeat(500)}` }, 400)).toMatch(
      /^a bz{196}…$/,
    )
  })

  it('code order: error.code, then error (string), then code', () => {
    expect(issuerErrorCode({ error: { code: 'a' }, code: 'c' })).toBe('a')
    expect(issuerErrorCode({ error: 'b', code: 'c' })).toBe('b')
    expect(issuerErrorCode({ code: 'c' })).toBe('c')
    expect(issuerErrorCode({ error: { message: 'no code' } })).toBeUndefined()
    expect(issuerErrorCode(undefined)).toBeUndefined()
  })
})

describe('refreshTokens', () => {
  it('rotates with the JSON body of PROTOCOL.md §4, one request (positive control)', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'r@example.com' })
    const refreshed = await refreshTokens(
      issuerOf(sim),
      Secret.from(account.refreshToken),
      'proactive_expiry',
    )
    expect(refreshed.refreshToken?.reveal()).not.toBe(account.refreshToken)
    expect(refreshed.accessToken).not.toBeNull()
    expect(refreshed.idToken).not.toBeNull()
    const requests = tokenRequests(sim, 'refresh_token')
    expect(requests).toHaveLength(1)
    expect(requests[0]?.headers['content-type']).toBe('application/json')
    expect(JSON.parse(requests[0]?.body ?? '')).toEqual({
      client_id: 'app_EMoamEEZ73f0CkXaXp7hrann',
      grant_type: 'refresh_token',
      refresh_reason: 'proactive_expiry',
      refresh_token: account.refreshToken,
    })
    expect(Object.keys(JSON.parse(requests[0]?.body ?? '') as object)).toEqual([
      'client_id',
      'grant_type',
      'refresh_reason',
      'refresh_token',
    ])
  })

  it('reuse → ERR_REFRESH_REUSED, then the family → ERR_REFRESH_REVOKED; one request each', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'r@example.com' })
    const old = Secret.from(account.refreshToken)
    const refreshed = await refreshTokens(issuerOf(sim), old, 'forced')
    const reused = await rejectionOf(refreshTokens(issuerOf(sim), old, 'forced'))
    expect(isBrokerError(reused, 'ERR_REFRESH_REUSED')).toBe(true)
    expect((reused as BrokerError).message).toBe(
      'Your access token could not be refreshed because your refresh token was already used. Please sign in again.',
    )
    expect((reused as BrokerError).hint).toMatch(/codex-broker login/)
    expect(tokenRequests(sim, 'refresh_token')).toHaveLength(2)
    const newest = refreshed.refreshToken
    if (newest === null) throw new Error('no rotated token')
    const revoked = await rejectionOf(refreshTokens(issuerOf(sim), newest, 'forced'))
    expect(isBrokerError(revoked, 'ERR_REFRESH_REVOKED')).toBe(true)
    expect((revoked as Error).message).toMatch(/was revoked\. Please sign in again\.$/)
    expect(tokenRequests(sim, 'refresh_token')).toHaveLength(3)
    for (const error of [reused, revoked]) {
      expect(isPermanentRefreshError(error)).toBe(true)
      expectNoSecrets(error, sim)
    }
  })

  it('an expired refresh token → ERR_REFRESH_EXPIRED', async () => {
    let now = Date.UTC(2026, 0, 1)
    const sim = await useSimulator({ now: () => now, config: { refreshTokenTtlSeconds: 60 } })
    const account = await signIn(sim, { email: 'r@example.com' })
    now += 61_000
    const error = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from(account.refreshToken), 'scheduled'),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_EXPIRED')).toBe(true)
    expect((error as Error).message).toMatch(/has expired\. Please sign in again\.$/)
    expect(isPermanentRefreshError(error)).toBe(true)
  })

  it('an unknown token (invalid_grant) and another 401 → ERR_REFRESH_FAILED', async () => {
    const sim = await useSimulator()
    const unknown = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from('rt_unknown_0123456789'), 'forced'),
    )
    expect(isBrokerError(unknown, 'ERR_REFRESH_FAILED')).toBe(true)
    expect((unknown as Error).message).toBe(
      'Your access token could not be refreshed. Please sign in again.',
    )
    const account = await signIn(sim, { email: 'r@example.com' })
    sim.control.injectFault({ route: '/oauth/token', kind: '401' })
    const other = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from(account.refreshToken), 'unauthorized_recovery'),
    )
    expect(isBrokerError(other, 'ERR_REFRESH_FAILED')).toBe(true)
    expect(isPermanentRefreshError(other)).toBe(true)
    expectNoSecrets(other, sim)
  })

  it('a 500 → ERR_REFRESH_TRANSIENT with exactly one request, and the token still works after', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'r@example.com' })
    sim.control.injectFault({ route: '/oauth/token', kind: '500' })
    const before = sim.control.counters().requests['/oauth/token'] ?? 0
    const error = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from(account.refreshToken), 'forced'),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect(isPermanentRefreshError(error)).toBe(false)
    expect((error as Error).message).toMatch(/HTTP 500.*credentials are kept/)
    expect((error as RefreshTransientError).delivery).toBe('answered')
    expect(isAmbiguousRefreshFailure(error)).toBe(false)
    expect((sim.control.counters().requests['/oauth/token'] ?? 0) - before).toBe(1)
    // the injected 500 never reached the grant, so the token was not spent
    await expect(
      refreshTokens(issuerOf(sim), Secret.from(account.refreshToken), 'forced'),
    ).resolves.toBeDefined()
  })

  it('a network error → ERR_REFRESH_TRANSIENT', async () => {
    const [port] = await freePorts(1)
    const error = await rejectionOf(
      refreshTokens(
        { issuer: `http://127.0.0.1:${port}`, clientId: 'c' },
        Secret.from('rt_0123456789abcdef'),
        'forced',
      ),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect((error as Error).message).toMatch(/ECONNREFUSED/)
    // Nothing was sent: the same token may be presented again.
    expect((error as RefreshTransientError).delivery).toBe('not_sent')
    expect(isAmbiguousRefreshFailure(error)).toBe(false)
  })

  it('a timeout → ERR_REFRESH_TRANSIENT', async () => {
    const port = await silentServer()
    const error = await rejectionOf(
      refreshTokens(
        { issuer: `http://127.0.0.1:${port}`, clientId: 'c', timeoutMs: 150 },
        Secret.from('rt_0123456789abcdef'),
        'forced',
      ),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect((error as Error).message).toMatch(/no answer within 150 ms/)
    // Sent and unanswered: the issuer may have rotated (RT-05).
    expect(isAmbiguousRefreshFailure(error)).toBe(true)
  })

  it('a redirect → ERR_REFRESH_TRANSIENT, never followed', async () => {
    const sim = await useSimulator()
    const target = await countingServer()
    sim.control.configure({ redirectFaultLocation: target.url })
    sim.control.injectFault({ route: '/oauth/token', kind: 'redirect' })
    const error = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from('rt_0123456789abcdef'), 'forced'),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect((error as RefreshTransientError).delivery).toBe('answered')
    expect(target.hits()).toBe(0)
  })

  it.each([
    ['not JSON', new Response('<html>oops</html>', { status: 200 })],
    ['an empty body', new Response(null, { status: 200 })],
    ['no token at all', jsonResponse(200, { token_type: 'Bearer' })],
    ['tokens of the wrong type', jsonResponse(200, { access_token: 42 })],
  ])('an unreadable 2xx (%s) → ERR_REFRESH_TRANSIENT, ambiguous', async (_name, response) => {
    const error = await rejectionOf(processRefreshResponse(response))
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    // The issuer said yes: it may have rotated even though the tokens cannot be read.
    expect(isAmbiguousRefreshFailure(error)).toBe(true)
  })

  it('a partial answer keeps the missing fields null (the caller keeps the old refresh token)', async () => {
    const refreshed = await processRefreshResponse(jsonResponse(200, { access_token: 'at-new' }))
    expect(refreshed.accessToken?.reveal()).toBe('at-new')
    expect(refreshed.refreshToken).toBeNull()
    expect(refreshed.idToken).toBeNull()
  })

  it('sends once through an injected fetch, whatever the failure', async () => {
    const { fetch, requests } = cannedFetch(() => jsonResponse(503, { error: 'busy' }))
    const error = await rejectionOf(
      refreshTokens(
        { issuer: 'https://auth.example.com', clientId: 'c', fetch },
        Secret.from('rt'),
        'forced',
      ),
    )
    expect(isBrokerError(error, 'ERR_REFRESH_TRANSIENT')).toBe(true)
    expect(requests).toHaveLength(1)
    expect(requests[0]?.redirect).toBe('manual')
  })
})

describe('classifyRefreshFailure', () => {
  it.each([
    [401, { error: { code: 'refresh_token_reused' } }, 'ERR_REFRESH_REUSED'],
    [400, { error: 'refresh_token_expired' }, 'ERR_REFRESH_EXPIRED'],
    [401, { code: 'refresh_token_invalidated' }, 'ERR_REFRESH_REVOKED'],
    [400, { error: 'invalid_grant' }, 'ERR_REFRESH_FAILED'],
    [401, undefined, 'ERR_REFRESH_FAILED'],
    [401, { error: { code: 'token_expired' } }, 'ERR_REFRESH_FAILED'],
    [400, { error: 'invalid_request' }, 'ERR_REFRESH_TRANSIENT'],
    [429, { error: 'rate_limited' }, 'ERR_REFRESH_TRANSIENT'],
    [500, undefined, 'ERR_REFRESH_TRANSIENT'],
    [502, { error: { code: 'refresh_token_reused' } }, 'ERR_REFRESH_REUSED'],
  ] as const)('HTTP %i %j → %s', (status, body, code) => {
    expect(classifyRefreshFailure(status, body).code).toBe(code)
  })

  it('error.code wins over code', () => {
    expect(
      classifyRefreshFailure(401, {
        error: { code: 'refresh_token_reused' },
        code: 'refresh_token_expired',
      }).code,
    ).toBe('ERR_REFRESH_REUSED')
  })

  it('isPermanentRefreshError recognises exactly the four permanent codes', () => {
    for (const code of [
      'ERR_REFRESH_REUSED',
      'ERR_REFRESH_EXPIRED',
      'ERR_REFRESH_REVOKED',
      'ERR_REFRESH_FAILED',
    ] as const) {
      expect(isPermanentRefreshError(new BrokerError(code, 'x'))).toBe(true)
    }
    expect(isPermanentRefreshError(new BrokerError('ERR_REFRESH_TRANSIENT', 'x'))).toBe(false)
    expect(isPermanentRefreshError(new BrokerError('ERR_NEEDS_LOGIN', 'x'))).toBe(false)
    expect(isPermanentRefreshError(new Error('ERR_REFRESH_REUSED'))).toBe(false)
  })
})

describe('exchangeForApiKey', () => {
  it('trades the id token for an sk- key with the token-exchange form (positive control)', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'k@example.com' })
    const apiKey = await exchangeForApiKey(issuerOf(sim), Secret.from(account.idToken))
    expect(apiKey.reveal()).toMatch(/^sk-proj-/)
    expect(sim.control.issued()).toContain(apiKey.reveal())
    const [request] = tokenRequests(sim, 'urn:ietf:params:oauth:grant-type:token-exchange')
    expect(Object.fromEntries(new URLSearchParams(request?.body ?? ''))).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: 'app_EMoamEEZ73f0CkXaXp7hrann',
      requested_token: 'openai-api-key',
      subject_token: account.idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    })
  })

  it('a token the issuer does not know is refused, without the token in the error', async () => {
    const sim = await useSimulator()
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlMDEyMzQ1Njc4OQ'
    const error = await rejectionOf(exchangeForApiKey(issuerOf(sim), Secret.from(forged)))
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expectNoSecrets(error, sim, [forged])
  })
})

describe('revokeRefreshToken', () => {
  it('revokes the family with the JSON body of PROTOCOL.md §4', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'v@example.com' })
    const before = sim.control.counters().revokedFamilies
    await revokeRefreshToken(issuerOf(sim), Secret.from(account.refreshToken))
    expect(sim.control.counters().revokedFamilies).toBe(before + 1)
    const [request] = sim.control.requests('/oauth/revoke')
    expect(request?.headers['content-type']).toBe('application/json')
    expect(JSON.parse(request?.body ?? '')).toEqual({
      token: account.refreshToken,
      token_type_hint: 'refresh_token',
      client_id: 'app_EMoamEEZ73f0CkXaXp7hrann',
    })
    const after = await rejectionOf(
      refreshTokens(issuerOf(sim), Secret.from(account.refreshToken), 'forced'),
    )
    expect(isBrokerError(after, 'ERR_REFRESH_REVOKED')).toBe(true)
  })

  it('a failing issuer is reported', async () => {
    const sim = await useSimulator()
    sim.control.injectFault({ route: '/oauth/revoke', kind: '500' })
    const error = await rejectionOf(revokeRefreshToken(issuerOf(sim), Secret.from('rt_0123456789')))
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
  })
})
