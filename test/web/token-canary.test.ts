/**
 * Token confinement (SECURITY.md CN, C4.10): every secret the simulator issued — access, refresh and id tokens,
 * authorization codes, device ids, verifiers, API keys — is absent from every status line, header, cookie, body,
 * stream event and log line the web handler produced across sign-in, runs, a refresh, refusals, failures and
 * logout. The session cookie is also checked to hold nothing but its opaque id and MAC.
 */
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/lib/index.js'
import { COOKIE_SECRET, ndjsonEvents, signIn, useWebHandler } from './web-fixture.js'

/** Every issued secret that `text` contains (also base64url-encoded). */
function leaked(text: string, secrets: readonly string[]): string[] {
  return secrets.filter(
    (secret) => text.includes(secret) || text.includes(Buffer.from(secret).toString('base64url')),
  )
}

describe('token canary over the web handler', () => {
  it('no issued secret in any response, cookie, stream event or log line', async () => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'))
        done()
      },
    })
    const fixture = await useWebHandler({
      logger: createLogger({ level: 'debug', destination }),
      idleTimeoutMs: 3 * 3_600_000,
    })
    const seen: string[] = []
    const original = fixture.call
    const call = async (...args: Parameters<typeof original>): Promise<Response> => {
      const response = await original(...args)
      seen.push(`${response.status} ${JSON.stringify([...response.headers])}`)
      seen.push(await response.clone().text())
      return response
    }
    const recording = { ...fixture, call }
    const { cookie } = await signIn(recording)
    await ndjsonEvents(await call('/run/stream', { body: { prompt: 'first' }, cookie }))
    fixture.clock.advance(2 * 3_600_000)
    await ndjsonEvents(await call('/run/stream', { body: { prompt: 'after refresh' }, cookie }))
    fixture.sim.control.injectFault({
      route: '/backend-api/codex/responses',
      kind: '401',
      count: 2,
    })
    await call('/run/stream', { body: { prompt: 'unauthorized twice' }, cookie })
    fixture.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: 'cut' })
    await call('/run/stream', { body: { prompt: 'cut' }, cookie })
    await call('/run/stream', { body: { prompt: 'x', model: 'nope' }, cookie })
    await call('/logout', { body: {}, cookie, headers: { 'sec-fetch-site': 'cross-site' } })
    await call('/status', { cookie })
    await call('/session', { body: {}, cookie })
    await call('/logout', { body: { everywhere: true }, cookie })
    await call('/status', { cookie })

    const issued = fixture.sim.control.issued()
    expect(issued.length).toBeGreaterThanOrEqual(8)
    expect(fixture.sim.control.counters().refreshCalls).toBeGreaterThanOrEqual(1)
    const everything = [...seen, ...lines].join('\n')
    expect(lines.length).toBeGreaterThan(3)
    expect(leaked(everything, issued)).toEqual([])
    expect(everything).not.toContain(COOKIE_SECRET)
    // Positive control: the scan finds a token placed in the text, raw or base64url-encoded.
    const [token = ''] = issued
    expect(leaked(`${everything} ${token}`, issued)).toEqual([token])
    expect(leaked(Buffer.from(token).toString('base64url'), issued)).toEqual([token])
  })

  it('the session cookie holds only an opaque id and its MAC', async () => {
    const fixture = await useWebHandler()
    const { cookie } = await signIn(fixture)
    const value = cookie.split('=')[1] ?? ''
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/)
    const decoded = Buffer.from(value.split('.')[0] ?? '', 'base64url').toString('latin1')
    expect(decoded).not.toContain('web-user')
    expect(leaked(cookie, fixture.sim.control.issued())).toEqual([])
  })
})
