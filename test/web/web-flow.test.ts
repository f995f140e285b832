import { describe, expect, it } from 'vitest'
import { cookieOf, ndjsonEvents, newSession, signIn, useWebHandler } from './web-fixture.js'

describe('web handler: the whole flow', () => {
  it('session → device sign-in → streamed run → logout, and no token anywhere', async () => {
    const fixture = await useWebHandler()
    const texts: string[] = []
    const record = async (response: Response): Promise<Response> => {
      texts.push(JSON.stringify([...response.headers]))
      const copy = response.clone()
      texts.push(await copy.text())
      return response
    }
    const anonymous = await record(await fixture.call('/session', { body: {} }))
    expect(await anonymous.json()).toEqual({ loggedIn: false, account: null })
    const { cookie } = await signIn(fixture)
    const session = await record(await fixture.call('/session', { body: {}, cookie }))
    expect(await session.json()).toEqual({
      loggedIn: true,
      account: { email: 'web-user@example.com', plan: 'plus' },
    })
    const run = await record(
      await fixture.call('/run/stream', { body: { prompt: 'Say hello' }, cookie }),
    )
    expect(run.status).toBe(200)
    expect(run.headers.get('content-type')).toContain('application/x-ndjson')
    const events = await ndjsonEvents(run)
    const text = events
      .filter((event) => event.type === 'text')
      .map((event) => event.delta)
      .join('')
    expect(text.length).toBeGreaterThan(0)
    expect(events.at(-1)).toMatchObject({ type: 'done' })
    const logout = await record(await fixture.call('/logout', { body: {}, cookie }))
    expect(logout.status).toBe(200)
    expect(await logout.json()).toEqual({ loggedIn: false })
    const after = await fixture.call('/status', { cookie })
    expect(after.status).toBe(401)

    const issued = fixture.sim.control.issued()
    expect(issued.length).toBeGreaterThan(2)
    const all = texts.join('\n')
    for (const secret of issued) expect(all).not.toContain(secret)
    // Positive control: the scan would see a secret if one were there.
    expect(`${all}${issued[0] ?? ''}`).toContain(issued[0] ?? '∅')
  })

  it('a device sign-in the user never approves stays pending, then expires with a reason', async () => {
    const fixture = await useWebHandler()
    fixture.sim.control.addAccount({ email: 'slow@example.com' })
    const cookie = await newSession(fixture)
    const start = await fixture.call('/login/start', { body: {}, cookie })
    const { userCode, expiresAt } = (await start.json()) as { userCode: string; expiresAt: number }
    const pending = await fixture.call('/status', { cookie })
    expect(await pending.json()).toMatchObject({ state: 'pending', userCode })
    fixture.clock.advance(expiresAt + 1 - fixture.clock.now())
    const expired = await fixture.call('/status', { cookie })
    expect(await expired.json()).toMatchObject({
      state: 'logged_out',
      error: { code: 'device_code_expired' },
    })
  })

  it('answers DEVICE_AUTH_NOT_ENABLED when the issuer has device sign-in off', async () => {
    const fixture = await useWebHandler()
    fixture.sim.control.addAccount({ email: 'no-device@example.com', deviceAuthEnabled: false })
    const cookie = await newSession(fixture)
    const start = await fixture.call('/login/start', { body: {}, cookie })
    expect(start.status).toBe(200)
    expect(await start.json()).toMatchObject({ errorCode: 'DEVICE_AUTH_NOT_ENABLED' })
  })

  it('a run without sign-in is 401 not_logged_in; a model outside the allowlist is 400', async () => {
    const fixture = await useWebHandler()
    const anonymous = await newSession(fixture)
    const refused = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie: anonymous })
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: { code: 'not_logged_in' } })
    const { cookie } = await signIn(fixture)
    const model = await fixture.call('/run/stream', {
      body: { prompt: 'hi', model: 'gpt-5.5-pro' },
      cookie,
    })
    expect(model.status).toBe(400)
    expect(await model.json()).toMatchObject({ error: { code: 'model_not_allowed' } })
    const allowed = await fixture.call('/run/stream', {
      body: { prompt: 'hi', model: 'gpt-5.4-mini' },
      cookie,
    })
    expect(allowed.status).toBe(200)
    await allowed.body?.cancel()
  })

  it('the signed-in cookie differs from the pre-login one, which no longer works (BR-07)', async () => {
    const fixture = await useWebHandler()
    const { cookie, preLoginCookie } = await signIn(fixture)
    expect(cookie).not.toBe(preLoginCookie)
    expect(cookie.split('=')[0]).toBe(preLoginCookie.split('=')[0])
    const old = await fixture.call('/status', { cookie: preLoginCookie })
    expect(old.status).toBe(401)
    const current = await fixture.call('/status', { cookie })
    expect(await current.json()).toMatchObject({ state: 'logged_in' })
    expect(cookieOf(await fixture.call('/session', { body: {}, cookie: preLoginCookie }))).not.toBe(
      preLoginCookie,
    )
  })
})
