/**
 * The Responses route end to end against the simulator: a streamed answer relayed byte for byte (strict SSE
 * framing), `stream: false` answered as one Response object, the broker's own headers upstream and none of the
 * caller's (PX-13), a 401 recovered once transparently, the documented answers for a usage limit, a Cloudflare
 * challenge and a redirect that is never followed (PX-08), a client abort that ends the upstream request at
 * once (PX-10), model listing, API-key mode, and a canary scan of every response and log line (PX-14).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { joinDeltas, parseSseFrames } from '../support/sse-frames.js'
import {
  API_ROUTE,
  call,
  postJson,
  RESPONSES_ROUTE,
  responsesBody,
  useProxy,
  type Answer,
  type ProxyFixture,
} from './proxy-fixture.js'

function expectNoIssuedSecret(fixture: ProxyFixture, answers: readonly Answer[]): void {
  const issued = fixture.sim.control.issued()
  expect(issued.length).toBeGreaterThan(0)
  const texts = [
    ...answers.map((answer) => `${JSON.stringify(answer.headers)}\n${answer.text}`),
    ...fixture.logs,
  ]
  for (const text of texts) {
    for (const secret of issued) expect(text).not.toContain(secret)
    expect(text).not.toContain(fixture.proxy.token.reveal())
  }
}

describe('POST /v1/responses (chatgpt)', () => {
  it('relays the stream with strict framing and forces store:false / stream:true upstream', async () => {
    const fixture = await useProxy()
    const answer = await postJson(fixture, { ...responsesBody('hello there'), store: true })
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('text/event-stream')
    const events = parseSseFrames(answer.text)
    expect(joinDeltas(events, 'response.output_text.delta')).toBe('Echo: hello there')
    expect(events.at(-1)?.event).toBe('response.completed')
    const [seen] = fixture.sim.control.requests(RESPONSES_ROUTE)
    const sent = JSON.parse(String(seen?.body)) as Record<string, unknown>
    expect(sent.store).toBe(false)
    expect(sent.stream).toBe(true)
    const alias = await postJson(fixture, responsesBody('again'), {}, '/responses')
    expect(alias.status).toBe(200)
    expectNoIssuedSecret(fixture, [answer, alias])
  })

  it('stream:false answers the Response object of the completed event', async () => {
    const fixture = await useProxy()
    const answer = await postJson(fixture, responsesBody('plain', false))
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('application/json')
    const response = JSON.parse(answer.text) as { object: string; status: string; output: unknown }
    expect(response.object).toBe('response')
    expect(response.status).toBe('completed')
    expect(JSON.stringify(response.output)).toContain('Echo: plain')
    expectNoIssuedSecret(fixture, [answer])
  })

  it('sends exactly the broker authorization and none of the caller headers (PX-13)', async () => {
    const fixture = await useProxy()
    const answer = await call(fixture.proxy, '/v1/responses', {
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${fixture.proxy.token.reveal()}`,
        cookie: 'session=stolen',
        referer: 'https://evil.example/',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-host': 'evil.example',
        'proxy-authorization': 'Basic abc',
        forwarded: 'for=10.0.0.1',
        'x-proxy-token-extra': 'x',
      },
      body: JSON.stringify(responsesBody()),
    })
    expect(answer.status).toBe(200)
    const [seen] = fixture.sim.control.requests(RESPONSES_ROUTE)
    expect(seen?.headers.authorization).toBe(`Bearer ${fixture.account.accessToken}`)
    for (const name of [
      'cookie',
      'referer',
      'x-forwarded-for',
      'x-forwarded-host',
      'proxy-authorization',
      'forwarded',
      'x-proxy-token',
      'x-proxy-token-extra',
      'origin',
    ]) {
      expect(seen?.headers[name]).toBeUndefined()
    }
    expect(JSON.stringify(seen?.headers)).not.toContain(fixture.proxy.token.reveal())
  })

  it('recovers once from an upstream 401, transparently', async () => {
    const fixture = await useProxy()
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: '401' })
    const answer = await postJson(fixture, responsesBody('after 401'))
    expect(answer.status).toBe(200)
    expect(joinDeltas(parseSseFrames(answer.text), 'response.output_text.delta')).toBe(
      'Echo: after 401',
    )
    expect(fixture.sim.control.requests(RESPONSES_ROUTE)).toHaveLength(2)
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
    expectNoIssuedSecret(fixture, [answer])
  })

  it('a usage limit → 429 rate_limited saying when it resets; no upstream body', async () => {
    const fixture = await useProxy()
    fixture.sim.control.setQuota({
      accountId: fixture.account.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: 900,
    })
    const answer = await postJson(fixture, responsesBody())
    expect(answer.status).toBe(429)
    const body = JSON.parse(answer.text) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('rate_limited')
    const times = [895_000, 905_000].map((ms) =>
      new Date(Date.now() + ms).toISOString().slice(11, 16),
    )
    expect(body.error.message).toMatch(/resets at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\.$/)
    expect(times.some((time) => body.error.message.includes(`${time} UTC`))).toBe(true)
    expect(answer.text).not.toContain('usage_limit_reached')
    expectNoIssuedSecret(fixture, [answer])
  })

  it('a Cloudflare challenge → 502 ERR_UPSTREAM_CHALLENGE without the page', async () => {
    const fixture = await useProxy()
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cloudflare' })
    const answer = await postJson(fixture, responsesBody())
    expect(answer.status).toBe(502)
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'ERR_UPSTREAM_CHALLENGE' } })
    expect(answer.text).not.toMatch(/just a moment|<html/i)
    expectNoIssuedSecret(fixture, [answer])
  })

  it('an upstream redirect → 502; the redirect target receives nothing (PX-08)', async () => {
    const fixture = await useProxy()
    let hits = 0
    const other = createServer((_req, res) => {
      hits += 1
      res.end('stolen')
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = other.address() as AddressInfo
      fixture.sim.control.configure({ redirectFaultLocation: `http://127.0.0.1:${String(port)}/x` })
      fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'redirect' })
      const answer = await postJson(fixture, responsesBody())
      expect(answer.status).toBe(502)
      expect(answer.text).not.toContain(String(port))
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(hits).toBe(0)
    } finally {
      await new Promise<void>((resolve) =>
        other.close(() => {
          resolve()
        }),
      )
    }
  })

  it('a stream cut after bytes were sent ends with one clean SSE error event', async () => {
    const fixture = await useProxy()
    fixture.sim.control.configure({ streamChunks: 8 })
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    const answer = await postJson(fixture, responsesBody('cut'))
    expect(answer.status).toBe(200)
    expect(answer.text).toContain('response.output_text.delta')
    expect(answer.text).not.toContain('response.completed')
    const events = parseSseFrames(answer.text)
    expect(events.at(-1)?.event).toBe('error')
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', code: 'ERR_STREAM_CUT' })
    expect(events.filter((event) => event.event === 'error')).toHaveLength(1)
    const next = await postJson(fixture, responsesBody())
    expect(next.status).toBe(200)
  })

  it('a client abort mid-stream aborts the upstream at once; the next request works (PX-10)', async () => {
    const fixture = await useProxy()
    fixture.sim.control.configure({ streamChunks: 50, streamDelayMs: 200 })
    const controller = new AbortController()
    // undici's request, not fetch: fetch adds Sec-Fetch-Mode, which the proxy refuses.
    const response = await request(`${fixture.proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: JSON.stringify(responsesBody('long')),
      signal: controller.signal,
    })
    expect(response.statusCode).toBe(200)
    response.body.on('error', () => undefined)
    await new Promise((resolve) => response.body.once('data', resolve))
    const started = Date.now()
    controller.abort()
    await expect.poll(() => fixture.logs.join('')).toContain('upstream request aborted')
    expect(Date.now() - started).toBeLessThan(1_000)
    fixture.sim.control.configure({ streamChunks: 3, streamDelayMs: 0 })
    const next = await postJson(fixture, responsesBody())
    expect(next.status).toBe(200)
  })
})

describe('GET /v1/models', () => {
  it('lists the plan models in the OpenAI list shape', async () => {
    const fixture = await useProxy()
    const answer = await call(fixture.proxy, '/v1/models', {
      method: 'GET',
      headers: fixture.auth(),
    })
    expect(answer.status).toBe(200)
    const body = JSON.parse(answer.text) as {
      object: string
      data: { id: string; object: string; owned_by: string }[]
    }
    expect(body.object).toBe('list')
    expect(body.data.length).toBeGreaterThan(0)
    for (const model of body.data)
      expect(model).toEqual({
        id: expect.any(String) as string,
        object: 'model',
        owned_by: 'openai',
      })
    const unauthenticated = await call(fixture.proxy, '/v1/models', { method: 'GET' })
    expect(unauthenticated.status).toBe(401)
  })

  it('in API-key mode relays the API list, and every model in it is accepted by the API', async () => {
    const fixture = await useProxy({ openai: true })
    const answer = await call(fixture.proxy, '/v1/models', {
      method: 'GET',
      headers: fixture.auth(),
    })
    expect(answer.status).toBe(200)
    const ids = (JSON.parse(answer.text) as { data: { id: string }[] }).data.map((m) => m.id)
    expect(ids).toContain('gpt-5.4')
    const [seen] = fixture.sim.control.requests('/v1/models')
    expect(seen?.headers.authorization).toMatch(/^Bearer sk-/)
    for (const id of ids) {
      const used = await postJson(fixture, { ...responsesBody('listed'), model: id, stream: false })
      expect({ id, status: used.status }).toEqual({ id, status: 200 })
    }
  })
})

describe('openai mode', () => {
  it('relays the API stream and a JSON answer with the API key upstream', async () => {
    const fixture = await useProxy({ openai: true })
    const streamed = await postJson(fixture, responsesBody('api'))
    expect(streamed.status).toBe(200)
    expect(joinDeltas(parseSseFrames(streamed.text), 'response.output_text.delta')).toBe(
      'Echo: api',
    )
    const plain = await postJson(fixture, responsesBody('json', false))
    expect(plain.status).toBe(200)
    expect(plain.headers['content-type']).toBe('application/json')
    expect((JSON.parse(plain.text) as { object: string }).object).toBe('response')
    const seen = fixture.sim.control.requests(API_ROUTE)
    expect(seen).toHaveLength(2)
    expect(String(seen[0]?.headers.authorization)).toMatch(/^Bearer sk-/)
    expectNoIssuedSecret(fixture, [streamed, plain])
  })
})
