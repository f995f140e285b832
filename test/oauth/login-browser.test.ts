/**
 * The browser sign-in end to end against the simulator (SECURITY.md CB-01, 03, 04, 06, 07, 09, 11): the
 * authorize URL, the callback on a kernel-picked registered port, the code exchange and `persist` before the
 * success page, the optional API-key exchange — and what an attacker can and cannot do to it.
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  type BrowserLoginOptions,
  createPkcePair,
  type IdTokenClaims,
  type LoginResult,
  loginWithBrowser,
  type TokenSet,
} from '../../src/oauth/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import {
  closeServer,
  authorizeRedirect,
  cannedFetch,
  connectResult,
  deferred,
  fastRetryClock,
  followAuthorize,
  freePorts,
  get,
  issuerOf,
  jsonResponse,
  msUntilRefused,
  type Page,
  rejectionOf,
} from './support.js'

const EMAIL = 'browser@example.com'
const squatters: Server[] = []

afterEach(async () => {
  await Promise.all(squatters.splice(0).map((server) => closeServer(server)))
})

interface Running {
  sim: Simulator
  ports: number[]
  /** The authorize URL, once the callback server listens. */
  url: Promise<URL>
  /** Every `persist` call, in order. */
  persisted: { tokens: TokenSet; claims: IdTokenClaims }[]
  result: Promise<LoginResult>
}

/** Starts a simulator registered for two free ports and a sign-in on them (the browser is the test). */
async function begin(
  options: Partial<BrowserLoginOptions> & { sim?: Simulator; ports?: number[] } = {},
): Promise<Running> {
  const ports = options.ports ?? (await freePorts(2))
  const sim =
    options.sim ??
    (await useSimulator({
      callbackPorts: ports,
      accounts: [{ email: EMAIL, plan: 'plus' }],
      config: { autoApprove: EMAIL },
    }))
  const url = deferred<URL>()
  const persisted: Running['persisted'] = []
  const result = loginWithBrowser({
    config: issuerOf(sim),
    ports,
    persist: (tokens, claims) => {
      persisted.push({ tokens, claims })
      return Promise.resolve()
    },
    ...options,
    onAuthorizeUrl: async (href) => {
      url.resolve(new URL(href))
      await options.onAuthorizeUrl?.(href)
    },
  })
  result.catch(() => undefined)
  return { sim, ports, url: url.promise, persisted, result }
}

function expectNoIssuedSecret(sim: Simulator, page: Page): void {
  const visible = `${page.body}\n${JSON.stringify([...page.headers])}`
  for (const secret of sim.control.issued()) expect(visible).not.toContain(secret)
}

describe('the browser sign-in (positive control)', () => {
  it('signs in, persists before the success page, and closes the port', async () => {
    const login = await begin()
    const url = await login.url
    const { callback, page } = await followAuthorize(url.href)
    expect(page.status).toBe(200)
    expect(page.body).toContain('Signed in')
    const result = await login.result
    expect(login.persisted).toHaveLength(1)
    expect(login.persisted[0]?.tokens).toBe(result.tokens)
    expect(result.claims.email).toBe(EMAIL)
    expect(result.claims.planType).toBe('plus')
    expect(result.apiKey).toBeNull()
    expect(result.apiKeyError).toBeNull()
    expect(login.sim.control.issued()).toContain(result.tokens.refreshToken.reveal())
    // CB-07: nothing the issuer handed out is on the page or in its headers
    expectNoIssuedSecret(login.sim, page)
    expect(page.body).not.toContain(callback.searchParams.get('code'))
    const boundPort = Number(new URL(url.searchParams.get('redirect_uri') ?? '').port)
    expect(await msUntilRefused(boundPort)).toBeLessThan(1_000)
  })

  it('CB-11: the redirect URI is byte-equal to the registered one of the bound port', async () => {
    const login = await begin()
    const url = await login.url
    // The first port is normally the one bound; under load another process may grab it first and the
    // fallback is used, so the assertion is against the registered URI of whichever port was bound.
    const registeredUris = login.ports.map(
      (port) => `http://127.0.0.1:${String(port)}/auth/callback`,
    )
    const registered = url.searchParams.get('redirect_uri') ?? ''
    expect(registeredUris).toContain(registered)
    expect(url.search).toContain(`redirect_uri=${encodeURIComponent(registered)}&`)
    await followAuthorize(url.href)
    await login.result
    const exchange = login.sim.control
      .requests('/oauth/token')
      .map((request) => new URLSearchParams(request.body ?? ''))
    expect(exchange.map((form) => form.get('redirect_uri'))).toEqual([registered])
  })

  it('passes originator and allowed_workspace_id through', async () => {
    const login = await begin({ originator: 'my_tool', allowedWorkspaceId: ['ws-a', 'ws-b'] })
    const url = await login.url
    expect(url.searchParams.get('originator')).toBe('my_tool')
    expect(url.searchParams.get('allowed_workspace_id')).toBe('ws-a,ws-b')
    await followAuthorize(url.href)
    await login.result
  })
})

describe('persist comes first', () => {
  it('the success page waits for persist', async () => {
    const gate = deferred()
    const events: string[] = []
    const login = await begin({
      persist: async () => {
        events.push('persist started')
        await gate.promise
        events.push('persist done')
      },
    })
    const callback = await authorizeRedirect((await login.url).href)
    const page = get(callback.href).then((answer) => {
      events.push('page')
      return answer
    })
    while (!events.includes('persist started'))
      await new Promise((resolve) => setTimeout(resolve, 5))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toEqual(['persist started'])
    gate.resolve()
    expect((await page).status).toBe(200)
    expect(events).toEqual(['persist started', 'persist done', 'page'])
    await login.result
  })

  it('a failing persist shows an error page, never success, and fails the login', async () => {
    const login = await begin({
      persist: () => Promise.reject(new Error('EACCES: /home/me/.codex-broker')),
    })
    const { page } = await followAuthorize((await login.url).href)
    expect(page.status).toBe(500)
    expect(page.body).not.toContain('Signed in')
    expect(page.body).not.toContain('EACCES')
    expectNoIssuedSecret(login.sim, page)
    expect(((await rejectionOf(login.result)) as Error).message).toMatch(/EACCES/)
  })

  it('a malformed id token fails before persist', async () => {
    const ports = await freePorts(2)
    const sim = await useSimulator({ callbackPorts: ports, config: { autoApprove: EMAIL } })
    const noAccount = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"email":"x@example.com"}').toString('base64url')}.c2ln`
    const { fetch } = cannedFetch(async (request) =>
      new URL(request.url).pathname === '/oauth/token'
        ? jsonResponse(200, { id_token: noAccount, access_token: 'at', refresh_token: 'rt' })
        : globalThis.fetch(request),
    )
    const login = await begin({ sim, ports, config: issuerOf(sim, { fetch }) })
    const { page } = await followAuthorize((await login.url).href)
    expect(page.body).toContain('ERR_UPSTREAM_BAD_RESPONSE')
    expect(login.persisted).toHaveLength(0)
    expect(isBrokerError(await rejectionOf(login.result), 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
  })
})

describe('CB-01: S256 only, no downgrade', () => {
  it('S256 with a 43-char challenge; when the issuer refuses, no second (plain) attempt', async () => {
    let calls = 0
    const ports = await freePorts(2)
    const sim = await useSimulator({ callbackPorts: ports, config: { autoApprove: EMAIL } })
    const login = await begin({
      sim,
      ports,
      onAuthorizeUrl: (href) => {
        calls += 1
        const url = new URL(href)
        const refusal = new URL(url.searchParams.get('redirect_uri') ?? '')
        refusal.searchParams.set('error', 'invalid_request')
        refusal.searchParams.set('error_description', 'code_challenge_method S256 is not supported')
        refusal.searchParams.set('state', url.searchParams.get('state') ?? '')
        sim.control.configure({ redirectFaultLocation: refusal.href })
        sim.control.injectFault({ route: '/oauth/authorize', kind: 'redirect' })
      },
    })
    const url = await login.url
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const { page } = await followAuthorize(url.href)
    expect(page.status).toBe(400)
    const error = await rejectionOf(login.result)
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expect((error as Error).message).toMatch(/invalid_request/)
    expect(calls).toBe(1)
    const authorizeRequests = sim.control.requests('/oauth/authorize')
    expect(authorizeRequests).toHaveLength(1)
    expect(authorizeRequests.filter((request) => request.url.includes('plain'))).toEqual([])
    expect(sim.control.counters().tokenCalls).toBe(0)
  })
})

describe('CB-03: concurrent sign-ins', () => {
  async function pair() {
    const [a1, a2, b1, b2] = (await freePorts(4)) as [number, number, number, number]
    const sim = await useSimulator({
      callbackPorts: [a1, a2, b1, b2],
      accounts: [{ email: EMAIL }],
      config: { autoApprove: EMAIL },
    })
    const a = await begin({ sim, ports: [a1, a2] })
    const b = await begin({ sim, ports: [b1, b2] })
    return { sim, a, b, urlA: await a.url, urlB: await b.url }
  }

  it('two logins get distinct verifiers and states and both complete (positive control)', async () => {
    const { sim, a, b, urlA, urlB } = await pair()
    expect(urlA.searchParams.get('state')).not.toBe(urlB.searchParams.get('state'))
    expect(urlA.searchParams.get('code_challenge')).not.toBe(
      urlB.searchParams.get('code_challenge'),
    )
    await Promise.all([followAuthorize(urlA.href), followAuthorize(urlB.href)])
    const [resultA, resultB] = await Promise.all([a.result, b.result])
    expect(resultA.tokens.refreshToken.reveal()).not.toBe(resultB.tokens.refreshToken.reveal())
    const verifiers = sim.control
      .requests('/oauth/token')
      .map((request) => new URLSearchParams(request.body ?? '').get('code_verifier') ?? '')
    expect(new Set(verifiers).size).toBe(2)
    const challenges = verifiers.map((verifier) =>
      createHash('sha256').update(verifier).digest('base64url'),
    )
    expect(challenges.sort()).toEqual(
      [urlA.searchParams.get('code_challenge'), urlB.searchParams.get('code_challenge')].sort(),
    )
  })

  it("a code from login A cannot complete login B, even with B's state", async () => {
    const { sim, a, b, urlA, urlB } = await pair()
    const callbackA = await authorizeRedirect(urlA.href)
    const issuedBefore = sim.control.issued().length
    const stolen = new URL(urlB.searchParams.get('redirect_uri') ?? '')
    stolen.searchParams.set('code', callbackA.searchParams.get('code') ?? '')
    // with A's state, B does not even try
    stolen.searchParams.set('state', callbackA.searchParams.get('state') ?? '')
    expect((await get(stolen.href)).status).toBe(400)
    expect(sim.control.counters().tokenCalls).toBe(0)
    // with B's state, B's verifier and redirect URI do not match A's code
    stolen.searchParams.set('state', urlB.searchParams.get('state') ?? '')
    const page = await get(stolen.href)
    expect(page.status).toBe(502)
    expect(isBrokerError(await rejectionOf(b.result), 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expect(b.persisted).toHaveLength(0)
    expect(sim.control.issued().length).toBe(issuedBefore)
    await get(`http://127.0.0.1:${callbackA.port}/cancel`)
    expect(isBrokerError(await rejectionOf(a.result), 'ERR_LOGIN_CANCELLED')).toBe(true)
  })
})

describe('CB-04: stray callbacks', () => {
  it('1,000 random wrong states: 400 each, 0 token calls, then the real callback succeeds', async () => {
    const login = await begin()
    const url = await login.url
    const callback = await authorizeRedirect(url.href)
    const code = callback.searchParams.get('code') ?? ''
    let rejected = 0
    for (let batch = 0; batch < 20; batch += 1) {
      const pages = await Promise.all(
        Array.from({ length: 50 }, () => {
          const wrong = new URL(callback.href)
          wrong.searchParams.set('state', createPkcePair().codeChallenge)
          return get(wrong.href)
        }),
      )
      for (const page of pages) {
        expect(page.status).toBe(400)
        expect(page.body).not.toContain(code)
        rejected += 1
      }
    }
    expect(rejected).toBe(1_000)
    for (const params of ['', `code=${code}`, `code=${code}&state=a&state=b`]) {
      expect((await get(`${url.searchParams.get('redirect_uri') ?? ''}?${params}`)).status).toBe(
        400,
      )
    }
    expect(login.sim.control.counters().tokenCalls).toBe(0)
    const page = await get(callback.href)
    expect(page.status).toBe(200)
    await login.result
    expect(login.sim.control.counters().tokenCalls).toBe(1)
  })
})

describe('CB-06: replay', () => {
  it('a used code+state is refused with 0 more token calls; after the end nothing listens', async () => {
    const gate = deferred()
    const login = await begin({ persist: () => gate.promise })
    const callback = await authorizeRedirect((await login.url).href)
    const first = get(callback.href)
    while (login.sim.control.counters().tokenCalls === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const replay = await get(callback.href)
    expect(replay.status).toBe(400)
    expect(replay.body).toContain('State mismatch')
    gate.resolve()
    expect((await first).status).toBe(200)
    await login.result
    expect(login.sim.control.counters().tokenCalls).toBe(1)
    expect(await connectResult(Number(callback.port))).toBe('ECONNREFUSED')
  })
})

describe('CB-09: a squatter on the first port', () => {
  it('falls back to the second port; the squatter gets no code it can use', async () => {
    const [first, second] = (await freePorts(2)) as [number, number]
    const sim = await useSimulator({
      callbackPorts: [first, second],
      accounts: [{ email: EMAIL }],
      config: { autoApprove: EMAIL },
    })
    const seen: string[] = []
    const exchanges: number[] = []
    // The squatter ignores /cancel and tries to redeem any code it receives (it has no verifier).
    const squatter = createServer((req, res) => {
      seen.push(req.url ?? '')
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${first}`)
      const code = url.searchParams.get('code')
      if (code === null) {
        res.end('ok')
        return
      }
      const verifier = url.searchParams.get('verifier') ?? createPkcePair().codeVerifier.reveal()
      void fetch(`${sim.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: CODEX_CLIENT_ID,
          code,
          redirect_uri:
            url.searchParams.get('redirect') ?? `http://127.0.0.1:${second}/auth/callback`,
          code_verifier: verifier,
        }).toString(),
      }).then(
        (response) => {
          exchanges.push(response.status)
          res.end('ok')
        },
        () => {
          exchanges.push(0)
          res.end('ok')
        },
      )
    })
    squatters.push(squatter)
    await new Promise<void>((resolve) => squatter.listen(first, '127.0.0.1', resolve))

    const { clock } = fastRetryClock()
    const login = await begin({ sim, ports: [first, second], clock })
    const url = await login.url
    expect(url.searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${second}/auth/callback`)
    const { callback, page } = await followAuthorize(url.href)
    expect(page.status).toBe(200)
    await login.result
    expect(seen).toEqual(['/cancel'])

    // Even handed the victim's code (say from browser history), the squatter cannot redeem it.
    await get(`http://127.0.0.1:${first}/auth/callback?${callback.searchParams.toString()}`)
    expect(exchanges).toEqual([400])

    // Positive control: the squatter's redemption works for a code of its own PKCE pair.
    const own = createPkcePair()
    const ownAuthorize = new URL(url.href)
    ownAuthorize.searchParams.set('code_challenge', own.codeChallenge)
    ownAuthorize.searchParams.set('redirect_uri', `http://127.0.0.1:${first}/auth/callback`)
    const ownCallback = await authorizeRedirect(ownAuthorize.href)
    ownCallback.searchParams.set('verifier', own.codeVerifier.reveal())
    ownCallback.searchParams.set('redirect', `http://127.0.0.1:${first}/auth/callback`)
    await get(ownCallback.href)
    expect(exchanges).toEqual([400, 200])
  })
})

describe('the API-key exchange (optional, best effort)', () => {
  it('returns an sk- key when asked', async () => {
    const login = await begin({ withApiKeyExchange: true })
    await followAuthorize((await login.url).href)
    const result = await login.result
    expect(result.apiKey?.reveal()).toMatch(/^sk-proj-/)
    expect(result.apiKeyError).toBeNull()
  })

  it('a failing exchange does not fail the sign-in', async () => {
    const ports = await freePorts(2)
    const sim = await useSimulator({ callbackPorts: ports, config: { autoApprove: EMAIL } })
    const login = await begin({
      sim,
      ports,
      withApiKeyExchange: true,
      persist: () => {
        // the next token call (the API-key exchange) fails
        sim.control.injectFault({ route: '/oauth/token', kind: '500' })
        return Promise.resolve()
      },
    })
    await followAuthorize((await login.url).href)
    const result = await login.result
    expect(result.apiKey).toBeNull()
    expect(isBrokerError(result.apiKeyError, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
  })
})

describe('ending without a callback', () => {
  it('onAuthorizeUrl failing ends the login and closes the port', async () => {
    const failure = new Error('no browser')
    const login = await begin({
      onAuthorizeUrl: () => {
        throw failure
      },
    })
    expect(await rejectionOf(login.result)).toBe(failure)
    expect(await msUntilRefused(login.ports[0] ?? 0)).toBeLessThan(1_000)
  })

  it('the timeout ends it with ERR_LOGIN_TIMEOUT', async () => {
    const login = await begin({ timeoutMs: 100 })
    expect(isBrokerError(await rejectionOf(login.result), 'ERR_LOGIN_TIMEOUT')).toBe(true)
    expect(login.persisted).toHaveLength(0)
  })

  it('an abort ends it with ERR_LOGIN_CANCELLED', async () => {
    const controller = new AbortController()
    const login = await begin({ signal: controller.signal })
    await login.url
    controller.abort()
    expect(isBrokerError(await rejectionOf(login.result), 'ERR_LOGIN_CANCELLED')).toBe(true)
  })
})
