/** BR-26…BR-33: CORS only for the exact allowlisted origin, with credentials only then and `Vary` always. */
import { describe, expect, it } from 'vitest'
import { newSession, useWebHandler } from './web-fixture.js'

const ALLOWED = 'https://app.example.com'
const OTHERS = [
  'null',
  'https://app.example.com.evil.com',
  'https://evilapp.example.com',
  'http://app.example.com',
  'https://app.example.com:8443',
  '*',
  'https://APP.example.com/',
]

describe('CORS allowlist', () => {
  it('echoes only the exact allowed origin, with credentials; Vary: Origin on every answer', async () => {
    const fixture = await useWebHandler({ allowedOrigins: [ALLOWED] })
    const cookie = await newSession(fixture)
    const allowed = await fixture.call('/session', {
      body: {},
      cookie,
      headers: { origin: ALLOWED, 'sec-fetch-site': 'cross-site' },
    })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
    expect(allowed.headers.get('vary')).toContain('Origin')
    for (const origin of OTHERS) {
      const response = await fixture.call('/session', {
        body: {},
        cookie,
        headers: { origin, 'sec-fetch-site': 'cross-site' },
      })
      expect(response.status, origin).toBe(403)
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull()
      expect(response.headers.get('access-control-allow-credentials'), origin).toBeNull()
      expect(response.headers.get('vary'), origin).toContain('Origin')
    }
  })

  it('grants a preflight only to the allowed origin for GET/POST and the known headers', async () => {
    const fixture = await useWebHandler({ allowedOrigins: [ALLOWED] })
    const preflight = (origin: string, method = 'POST', headers = 'content-type, x-codex-broker') =>
      fixture.call('/run/stream', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': headers,
          'sec-fetch-site': 'cross-site',
          'x-codex-broker': null,
        },
      })
    const granted = await preflight(ALLOWED)
    expect(granted.status).toBe(204)
    expect(granted.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(granted.headers.get('access-control-allow-credentials')).toBe('true')
    for (const origin of OTHERS) {
      const refused = await preflight(origin)
      expect(refused.status, origin).toBe(403)
      expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull()
    }
    expect((await preflight(ALLOWED, 'DELETE')).status).toBe(403)
    expect((await preflight(ALLOWED, 'POST', 'content-type, authorization')).status).toBe(403)
  })

  it('without allowedOrigins no answer ever carries Access-Control-Allow-Origin', async () => {
    const fixture = await useWebHandler()
    const response = await fixture.call('/session', {
      body: {},
      headers: { origin: ALLOWED, 'sec-fetch-site': 'cross-site' },
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('refuses allowedOrigins entries that are not exact origins', async () => {
    await expect(useWebHandler({ allowedOrigins: ['https://*.example.com'] })).rejects.toThrow(
      /not an exact origin/,
    )
    await expect(
      useWebHandler({ allowedOrigins: ['https://app.example.com/path'] }),
    ).rejects.toThrow(/not an exact origin/)
  })
})
