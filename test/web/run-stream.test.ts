import { describe, expect, it } from 'vitest'
import { ndjsonEvents, signIn, useWebHandler } from './web-fixture.js'

describe('POST /run/stream', () => {
  it('one run per session: a second is 409 while the first streams, and allowed once it is cancelled', async () => {
    const fixture = await useWebHandler()
    fixture.sim.control.configure({ streamDelayMs: 50, streamChunks: 20 })
    const { cookie } = await signIn(fixture)
    const first = await fixture.call('/run/stream', { body: { prompt: 'long answer' }, cookie })
    expect(first.status).toBe(200)
    const reader = (first.body as ReadableStream<Uint8Array>).getReader()
    const firstChunk = await reader.read()
    expect(new TextDecoder().decode(firstChunk.value)).toContain('"type":"text"')
    const second = await fixture.call('/run/stream', { body: { prompt: 'again' }, cookie })
    expect(second.status).toBe(409)
    expect(await second.json()).toMatchObject({ error: { code: 'run_in_progress' } })
    // The browser goes away: the upstream is aborted and the slot freed.
    await reader.cancel()
    const third = await fixture.call('/run/stream', { body: { prompt: 'after' }, cookie })
    expect(third.status).toBe(200)
    expect((await ndjsonEvents(third)).at(-1)).toMatchObject({ type: 'done' })
  })

  it('refuses an empty prompt, a prompt over the limit and unknown fields; accepts one at the limit', async () => {
    const fixture = await useWebHandler({ maxPromptBytes: 1000 })
    const { cookie } = await signIn(fixture)
    const empty = await fixture.call('/run/stream', { body: { prompt: '   ' }, cookie })
    expect(empty.status).toBe(400)
    const long = await fixture.call('/run/stream', { body: { prompt: 'é'.repeat(501) }, cookie })
    expect(long.status).toBe(413)
    const extra = await fixture.call('/run/stream', {
      body: { prompt: 'hi', tools: [{ type: 'web_search' }] },
      cookie,
    })
    expect(extra.status).toBe(400)
    const huge = await fixture.call('/run/stream', {
      body: { prompt: 'x'.repeat(100_000) },
      cookie,
    })
    expect(huge.status).toBe(413)
    const atLimit = await fixture.call('/run/stream', { body: { prompt: 'é'.repeat(500) }, cookie })
    expect(atLimit.status).toBe(200)
    await atLimit.body?.cancel()
  })

  it("the user's exhausted quota is a 429 with the reset time, and no upstream body is forwarded", async () => {
    const fixture = await useWebHandler()
    const { cookie } = await signIn(fixture)
    const [account] = fixture.sim.control.accounts()
    fixture.sim.control.setQuota({
      accountId: account?.accountId ?? '',
      primaryUsedPercent: 100,
      resetsInSeconds: 600,
    })
    const response = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(response.status).toBe(429)
    const body = (await response.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('upstream_rate_limited')
    expect(body.error.message).not.toContain('usage_limit_reached')
  })

  it('a stream cut mid-way ends with an error line, not a silent end', async () => {
    const fixture = await useWebHandler()
    const { cookie } = await signIn(fixture)
    fixture.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: 'cut' })
    const response = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(response.status).toBe(200)
    const events = await ndjsonEvents(response)
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'stream_cut' })
  })

  it('an expired access token is refreshed once, then the run streams (and the refresh was single)', async () => {
    const fixture = await useWebHandler({ idleTimeoutMs: 3 * 3_600_000 })
    const { cookie } = await signIn(fixture)
    fixture.clock.advance(2 * 3_600_000)
    const response = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(response.status).toBe(200)
    expect((await ndjsonEvents(response)).at(-1)).toMatchObject({ type: 'done' })
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
  })

  it('a sign-in the issuer revoked ends the session sign-in: 401, then logged_out', async () => {
    const fixture = await useWebHandler({ idleTimeoutMs: 3 * 3_600_000 })
    const { cookie } = await signIn(fixture)
    const [account] = fixture.sim.control.accounts()
    fixture.sim.control.revokeAccount({ accountId: account?.accountId ?? '' })
    fixture.clock.advance(2 * 3_600_000)
    const response = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: { code: 'not_logged_in' } })
    expect(await (await fixture.call('/status', { cookie })).json()).toEqual({
      state: 'logged_out',
    })
  })

  it('API-key mode: every session is signed in and runs with the app key', async () => {
    const fixture = await useWebHandler()
    const { apiKey } = fixture.sim.control.createApiKey()
    const apiMode = await useWebHandler(
      { upstream: { kind: 'apiKey', apiKey, apiBase: fixture.sim.apiBase } },
      fixture.sim,
    )
    const session = await apiMode.call('/session', { body: {} })
    expect(await session.clone().json()).toEqual({ loggedIn: true, account: null })
    const cookie = session.headers.getSetCookie()[0]?.split(';')[0] ?? ''
    const start = await apiMode.call('/login/start', { body: {}, cookie })
    expect(start.status).toBe(409)
    const run = await apiMode.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(run.status).toBe(200)
    const text = JSON.stringify(await ndjsonEvents(run))
    expect(text).toContain('"type":"done"')
    expect(text).not.toContain(apiKey)
  })
})

describe('rate limits (BR-35)', () => {
  it('login starts: 429 after the per-session limit, other sessions unaffected, then the global cap', async () => {
    const fixture = await useWebHandler({
      rateLimits: {
        loginStart: {
          perSession: { points: 3, durationSeconds: 10 },
          global: { points: 5, durationSeconds: 10 },
        },
      },
    })
    fixture.sim.control.addAccount({ email: 'limits@example.com' })
    const session = async (): Promise<string> =>
      ((await fixture.call('/session', { body: {} })).headers.getSetCookie()[0] ?? '').split(
        ';',
      )[0] ?? ''
    const noisy = await session()
    const statuses: number[] = []
    for (let i = 0; i < 200; i += 1) {
      statuses.push((await fixture.call('/login/start', { body: {}, cookie: noisy })).status)
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200])
    expect(new Set(statuses.slice(3))).toEqual(new Set([429]))
    const limited = await fixture.call('/login/start', { body: {}, cookie: noisy })
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // The noisy session's refused calls did not use up the global budget.
    const quiet = await session()
    expect((await fixture.call('/login/start', { body: {}, cookie: quiet })).status).toBe(200)
    expect((await fixture.call('/login/start', { body: {}, cookie: quiet })).status).toBe(200)
    const third = await session()
    expect((await fixture.call('/login/start', { body: {}, cookie: third })).status).toBe(429)
  })
})
