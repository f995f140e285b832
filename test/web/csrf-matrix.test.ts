/**
 * BR-11…BR-25: the Fetch-Metadata / Origin matrix of SECURITY.md part F, every row against every route, each with
 * and without a valid session cookie. "Refused" means 403 with no side effect (no cookie set, no device code
 * requested, the session untouched); "passes" means the CSRF gate let it through (whatever the route then says).
 */
import { describe, expect, it } from 'vitest'
import { ORIGIN, newSession, signIn, useWebHandler, type WebFixture } from './web-fixture.js'

interface Row {
  readonly name: string
  readonly headers: Readonly<Record<string, string | null>>
  readonly method?: string
  readonly expect: 'passes' | 'refused'
}

const ROWS: readonly Row[] = [
  { name: 'same-origin', headers: { 'sec-fetch-site': 'same-origin' }, expect: 'passes' },
  { name: 'Sec-Fetch-Site none', headers: { 'sec-fetch-site': 'none' }, expect: 'passes' },
  {
    name: 'cross-site',
    headers: { 'sec-fetch-site': 'cross-site', origin: 'http://attacker.test:8081' },
    expect: 'refused',
  },
  {
    name: 'same-site, other localhost port',
    headers: { 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:8082' },
    expect: 'refused',
  },
  {
    name: 'same-site, localhost name',
    headers: { 'sec-fetch-site': 'same-site', origin: 'http://localhost:8082' },
    expect: 'refused',
  },
  { name: 'no Origin, no Sec-Fetch-Site', headers: { 'sec-fetch-site': null }, expect: 'refused' },
  {
    name: 'Origin match, no SFS',
    headers: { 'sec-fetch-site': null, origin: ORIGIN },
    expect: 'passes',
  },
  {
    name: 'Origin mismatch',
    headers: { 'sec-fetch-site': null, origin: 'https://evil.example' },
    expect: 'refused',
  },
  {
    name: 'Origin port mismatch',
    headers: { 'sec-fetch-site': null, origin: 'http://127.0.0.1:3001' },
    expect: 'refused',
  },
  {
    name: 'Origin scheme mismatch',
    headers: { 'sec-fetch-site': null, origin: 'https://127.0.0.1:3000' },
    expect: 'refused',
  },
  { name: 'Origin null', headers: { 'sec-fetch-site': null, origin: 'null' }, expect: 'refused' },
  {
    name: 'X-Forwarded-Host: evil is ignored',
    headers: {
      'sec-fetch-site': null,
      origin: 'http://evil.example',
      'x-forwarded-host': 'evil.example',
    },
    expect: 'refused',
  },
  ...['PUT', 'PATCH', 'DELETE'].map((method): Row => ({
    name: `${method} cross-site`,
    method,
    headers: { 'sec-fetch-site': 'cross-site', origin: 'http://attacker.test:8081' },
    expect: 'refused',
  })),
]

const POST_ROUTES = [
  { path: '/session', body: {} },
  { path: '/login/start', body: {} },
  { path: '/run/stream', body: { prompt: 'hi' } },
  { path: '/logout', body: {} },
] as const

function deviceStarts(fixture: WebFixture): number {
  return fixture.sim.control.requests('/api/accounts/deviceauth/usercode').length
}

describe.each([{ withCookie: false }, { withCookie: true }])(
  'CSRF matrix (cookie: $withCookie)',
  ({ withCookie }) => {
    it.each(POST_ROUTES)(
      'POST $path: every row as expected, refusals without side effects',
      async (route) => {
        const fixture = await useWebHandler({
          rateLimits: { loginStart: { perSession: { points: 1000, durationSeconds: 60 } } },
        })
        fixture.sim.control.addAccount({ email: 'matrix@example.com' })
        let cookie = withCookie ? (await signIn(fixture, 'victim@example.com')).cookie : null
        const outcomes: string[] = []
        for (const row of ROWS) {
          const before = deviceStarts(fixture)
          const response = await fixture.call(route.path, {
            method: row.method ?? 'POST',
            body: route.body,
            cookie,
            headers: row.headers,
          })
          await response.body?.cancel()
          const refused = response.status === 403
          outcomes.push(`${row.name}: ${refused ? 'refused' : 'passes'}`)
          if (refused) {
            expect(response.headers.getSetCookie()).toEqual([])
            expect(deviceStarts(fixture)).toBe(before)
            if (cookie !== null)
              expect((await fixture.call('/status', { cookie })).status).toBe(200)
          } else if (route.path === '/logout' && cookie !== null) {
            // That logout worked: the old cookie is dead; continue with a fresh session.
            expect((await fixture.call('/status', { cookie })).status).toBe(401)
            cookie = await newSession(fixture)
          }
        }
        expect(outcomes).toEqual(ROWS.map((row) => `${row.name}: ${row.expect}`))
        if (cookie !== null && route.path !== '/logout') {
          // The refused requests changed nothing: the session is still signed in.
          expect(await (await fixture.call('/status', { cookie })).json()).toMatchObject({
            state: 'logged_in',
          })
        }
      },
    )

    it('GET /status cross-site answers without side effects; without the static header it is refused', async () => {
      const fixture = await useWebHandler()
      const cookie = withCookie ? await newSession(fixture) : null
      const crossSite = await fixture.call('/status', {
        cookie,
        headers: { 'sec-fetch-site': 'cross-site', origin: 'http://attacker.test:8081' },
      })
      expect(crossSite.status).toBe(200)
      expect(crossSite.headers.get('access-control-allow-origin')).toBeNull()
      expect(crossSite.headers.get('cross-origin-resource-policy')).toBe('same-origin')
      const noHeader = await fixture.call('/status', {
        cookie,
        headers: { 'x-codex-broker': null, 'sec-fetch-site': 'cross-site' },
      })
      expect(noHeader.status).toBe(403)
    })
  },
)

describe('BR-25: the static header', () => {
  it.each(POST_ROUTES)(
    'POST $path without X-Codex-Broker is 403 even same-origin (control: with it, not 403)',
    async (route) => {
      const fixture = await useWebHandler()
      const cookie = await newSession(fixture)
      const without = await fixture.call(route.path, {
        body: route.body,
        cookie,
        headers: { 'x-codex-broker': null },
      })
      expect(without.status).toBe(403)
      expect(await without.json()).toMatchObject({ error: { code: 'forbidden' } })
      const wrong = await fixture.call(route.path, {
        body: route.body,
        cookie,
        headers: { 'x-codex-broker': '0' },
      })
      expect(wrong.status).toBe(403)
      const withIt = await fixture.call(route.path, { body: route.body, cookie })
      expect(withIt.status).not.toBe(403)
      await withIt.body?.cancel()
    },
  )

  it('a text/plain or form body (what a cross-site form can send) is 415, JSON is not', async () => {
    const fixture = await useWebHandler()
    const cookie = await newSession(fixture)
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const response = await fixture.call('/logout', {
        body: {},
        cookie,
        headers: { 'content-type': type },
      })
      expect(response.status).toBe(415)
    }
    expect((await fixture.call('/logout', { body: {}, cookie })).status).toBe(200)
  })
})

describe('Host allowlist (DNS rebinding)', () => {
  it('refuses a rebound name and 0.0.0.0 without publicOrigins; serves loopback names', async () => {
    const fixture = await useWebHandler()
    for (const origin of [
      'http://rebind.test:3000',
      'http://0.0.0.0:3000',
      'http://10.0.0.5:3000',
    ]) {
      const response = await fixture.call('/session', { body: {}, origin, headers: { origin } })
      expect(response.status).toBe(403)
      expect(await response.json()).toMatchObject({ error: { code: 'host_not_allowed' } })
    }
    for (const origin of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']) {
      const response = await fixture.call('/session', { body: {}, origin, headers: { origin } })
      expect(response.status).toBe(200)
    }
  })

  it('with publicOrigins only those are served; forwarded headers count only with trustProxy', async () => {
    const fixture = await useWebHandler({ publicOrigins: ['https://app.example.com'] })
    const direct = await fixture.call('/session', { body: {}, origin: 'https://app.example.com' })
    expect(direct.status).toBe(200)
    const loopback = await fixture.call('/session', { body: {} })
    expect(loopback.status).toBe(403)
    const forged = await fixture.call('/session', {
      body: {},
      headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https' },
    })
    expect(forged.status).toBe(403)
    const proxied = await useWebHandler({
      publicOrigins: ['https://app.example.com'],
      trustProxy: true,
    })
    const behindProxy = await proxied.call('/session', {
      body: {},
      headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https' },
    })
    expect(behindProxy.status).toBe(200)
  })
})
