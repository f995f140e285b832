import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import {
  newSessionId,
  SessionCookieSigner,
  SESSION_COOKIE_NAME,
} from '../../src/web/session-cookie.js'
import { COOKIE_SECRET, cookieOf, newSession, signIn, useWebHandler } from './web-fixture.js'

const MINUTE = 60_000

describe('session lifecycle', () => {
  it('BR-06: a well-formed, validly signed id that was never issued is not adopted', async () => {
    const fixture = await useWebHandler()
    const signer = new SessionCookieSigner(Secret.from(COOKIE_SECRET))
    const planted = `${SESSION_COOKIE_NAME}=${signer.sign(newSessionId())}`
    expect((await fixture.call('/status', { cookie: planted })).status).toBe(401)
    const session = await fixture.call('/session', { body: {}, cookie: planted })
    expect(session.status).toBe(200)
    const issued = cookieOf(session)
    expect(issued).not.toBe(planted)
    expect((await fixture.call('/status', { cookie: planted })).status).toBe(401)
    // Control: the issued one is a live session.
    expect((await fixture.call('/status', { cookie: issued })).status).toBe(200)
  })

  it('BR-08: idle timeout — live just before, 401 after idle + 1 s', async () => {
    const fixture = await useWebHandler({ idleTimeoutMs: 10 * MINUTE })
    const cookie = await newSession(fixture)
    fixture.clock.advance(10 * MINUTE - 1000)
    expect((await fixture.call('/status', { cookie })).status).toBe(200)
    // The request above refreshed the idle timer.
    fixture.clock.advance(10 * MINUTE - 1000)
    expect((await fixture.call('/status', { cookie })).status).toBe(200)
    fixture.clock.advance(10 * MINUTE + 1000)
    const expired = await fixture.call('/status', { cookie })
    expect(expired.status).toBe(401)
    expect(await expired.json()).toMatchObject({ error: { code: 'session_expired' } })
  })

  it('BR-09: absolute timeout ends a busy session; a cookie replayed after logout is 401', async () => {
    const fixture = await useWebHandler({
      idleTimeoutMs: 30 * MINUTE,
      absoluteTimeoutMs: 60 * MINUTE,
    })
    const cookie = await newSession(fixture)
    for (let elapsed = 0; elapsed < 60 * MINUTE - 20 * MINUTE; elapsed += 20 * MINUTE) {
      fixture.clock.advance(20 * MINUTE)
      expect((await fixture.call('/status', { cookie })).status).toBe(200)
    }
    fixture.clock.advance(20 * MINUTE + 1000)
    expect((await fixture.call('/status', { cookie })).status).toBe(401)

    const signedIn = await signIn(fixture)
    expect((await fixture.call('/status', { cookie: signedIn.cookie })).status).toBe(200)
    await fixture.call('/logout', { body: {}, cookie: signedIn.cookie })
    expect((await fixture.call('/status', { cookie: signedIn.cookie })).status).toBe(401)
    const run = await fixture.call('/run/stream', {
      body: { prompt: 'hi' },
      cookie: signedIn.cookie,
    })
    expect(run.status).toBe(401)
  })

  it('BR-10: logout removes the session and its tokens, sends Clear-Site-Data and no-store', async () => {
    const fixture = await useWebHandler()
    const { cookie } = await signIn(fixture)
    const session = await fixture.call('/session', { body: {}, cookie })
    expect(session.headers.get('cache-control')).toBe('no-store')
    const logout = await fixture.call('/logout', { body: {}, cookie })
    expect(logout.status).toBe(200)
    expect(logout.headers.get('clear-site-data')).toBe('"cache"')
    expect(logout.headers.get('cache-control')).toBe('no-store')
    expect(logout.headers.getSetCookie()[0]).toMatch(/Max-Age=0/)
    expect((await fixture.call('/status', { cookie })).status).toBe(401)
  })

  it('logout everywhere revokes the refresh token at the issuer; a plain logout does not', async () => {
    const fixture = await useWebHandler()
    const plain = await signIn(fixture, 'plain@example.com')
    await fixture.call('/logout', { body: {}, cookie: plain.cookie })
    expect(fixture.sim.control.counters().revokedFamilies).toBe(0)
    const everywhere = await signIn(fixture, 'everywhere@example.com')
    const logout = await fixture.call('/logout', {
      body: { everywhere: true },
      cookie: everywhere.cookie,
    })
    expect(logout.status).toBe(200)
    expect(fixture.sim.control.counters().revokedFamilies).toBe(1)
  })

  it('logout everywhere with the issuer unreachable keeps the session and says so', async () => {
    const fixture = await useWebHandler()
    const { cookie } = await signIn(fixture)
    fixture.sim.control.injectFault({ route: '/oauth/revoke', kind: '500' })
    const logout = await fixture.call('/logout', { body: { everywhere: true }, cookie })
    expect(logout.status).toBeGreaterThanOrEqual(500)
    expect((await fixture.call('/status', { cookie })).status).toBe(200)
    const again = await fixture.call('/logout', { body: { everywhere: true }, cookie })
    expect(again.status).toBe(200)
    expect((await fixture.call('/status', { cookie })).status).toBe(401)
  })
})
