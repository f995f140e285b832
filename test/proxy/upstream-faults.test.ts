/**
 * Every simulator fault through the proxy gives its documented answer, on the routes and modes responses.test.ts
 * does not already cover: an upstream 500 → 503 `ERR_UPSTREAM_UNAVAILABLE` without the upstream body; a 401
 * recovered once transparently on Chat Completions and /v1/models (and a second 401 reported, not looped); a
 * Cloudflare challenge → 502 `ERR_UPSTREAM_CHALLENGE` after exactly one upstream call; a cut before any byte
 * reached the client (a JSON error) versus after (a truncated stream); a slow stream relayed intact; a redirect →
 * 502 with the redirect target receiving nothing (PX-08). PX-09: a stream far longer than the proxy's request
 * and header timeouts is relayed to its end, and a client abort closes the upstream answer within 1 s (seen on
 * a stand-in upstream). Each answer and log line is scanned for every issued secret and the proxy token.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { joinDeltas, parseSseFrames } from '../support/sse-frames.js'
import {
  API_ROUTE,
  call,
  MODELS_ROUTE,
  postJson,
  rawHttp,
  RESPONSES_ROUTE,
  responsesBody,
  useProxy,
  type Answer,
  type ProxyFixture,
} from './proxy-fixture.js'
import { answerText, expectNoSecrets, startProxyOverApi, startStandInApi } from './sdk-support.js'

const CHAT = '/v1/chat/completions'
const MODEL = 'gpt-5.4'

/** One proxy call a fault is tried on. */
interface Target {
  name: string
  /** The simulator route the proxy calls for it. */
  route: string
  send(fixture: ProxyFixture, text: string): Promise<Answer>
}

function chatBody(text: string, stream: boolean): Record<string, unknown> {
  return { model: MODEL, messages: [{ role: 'user', content: text }], stream }
}

const responsesStream: Target = {
  name: 'POST /v1/responses stream',
  route: RESPONSES_ROUTE,
  send: (fixture, text) => postJson(fixture, responsesBody(text, true)),
}
const responsesJson: Target = {
  name: 'POST /v1/responses stream:false',
  route: RESPONSES_ROUTE,
  send: (fixture, text) => postJson(fixture, responsesBody(text, false)),
}
const chatStream: Target = {
  name: 'POST /v1/chat/completions stream',
  route: RESPONSES_ROUTE,
  send: (fixture, text) => postJson(fixture, chatBody(text, true), {}, CHAT),
}
const chatJson: Target = {
  name: 'POST /v1/chat/completions',
  route: RESPONSES_ROUTE,
  send: (fixture, text) => postJson(fixture, chatBody(text, false), {}, CHAT),
}
const models: Target = {
  name: 'GET /v1/models',
  route: MODELS_ROUTE,
  send: (fixture) => call(fixture.proxy, '/v1/models', { method: 'GET', headers: fixture.auth() }),
}

/** The text a successful answer of each target carries (models: a known model id). */
function expectAnswered(target: Target, answer: Answer, text: string): void {
  expect(answer.status).toBe(200)
  if (target === models) {
    expect(answer.text).toContain(`"id":"${MODEL}"`)
  } else if (target === chatStream) {
    const content = answer.text
      .split('\n\n')
      .filter((frame) => frame.startsWith('data: {'))
      .map(
        (frame) =>
          (JSON.parse(frame.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]
            ?.delta.content ?? '',
      )
      .join('')
    expect(content).toBe(`Echo: ${text}`)
    expect(answer.text.endsWith('data: [DONE]\n\n')).toBe(true)
  } else if (target === responsesStream) {
    expect(joinDeltas(parseSseFrames(answer.text), 'response.output_text.delta')).toBe(
      `Echo: ${text}`,
    )
  } else {
    expect(answer.text).toContain(`"Echo: ${text}"`)
  }
}

/** A JSON error answer with this status and code, carrying nothing of the upstream's answer. */
function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status)
  expect(answer.headers['content-type']).toBe('application/json')
  expect(JSON.parse(answer.text)).toMatchObject({ error: { code } })
  expect(answer.text).not.toMatch(/injected|server_error|token_expired|just a moment|<html/i)
}

/** A local `node:http` server that counts the requests it receives (the redirect target). */
async function useRecorder(): Promise<{
  url: string
  hits: () => number
  close: () => Promise<void>
}> {
  let hits = 0
  const server = createServer((_req, res) => {
    hits += 1
    res.end('stolen')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${String(port)}/collect`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}

describe('upstream 500', () => {
  it.each([responsesStream, responsesJson, chatStream, chatJson, models])(
    '$name → 503 ERR_UPSTREAM_UNAVAILABLE, no upstream body; the next call works',
    async (target) => {
      const fixture = await useProxy()
      fixture.sim.control.injectFault({ route: target.route, kind: '500' })
      const failed = await target.send(fixture, 'after 500')
      expectError(failed, 503, 'ERR_UPSTREAM_UNAVAILABLE')
      // A 500 is not retried by the proxy: one upstream call.
      expect(fixture.sim.control.requests(target.route)).toHaveLength(1)
      const next = await target.send(fixture, 'after 500')
      expectAnswered(target, next, 'after 500')
      expectNoSecrets(fixture, [failed, next].map(answerText))
    },
  )

  it('API-key mode: 500 → 503 without the API body; the next call works', async () => {
    const fixture = await useProxy({ openai: true })
    fixture.sim.control.injectFault({ route: API_ROUTE, kind: '500' })
    const failed = await chatJson.send(fixture, 'api 500')
    expectError(failed, 503, 'ERR_UPSTREAM_UNAVAILABLE')
    const next = await chatJson.send(fixture, 'api 500')
    expectAnswered(chatJson, next, 'api 500')
    expectNoSecrets(fixture, [failed, next].map(answerText))
  })
})

describe('upstream 401', () => {
  it.each([chatStream, chatJson, models])(
    '$name: one 401 is recovered by one refresh, transparently',
    async (target) => {
      const fixture = await useProxy()
      fixture.sim.control.injectFault({ route: target.route, kind: '401' })
      const answer = await target.send(fixture, 'after 401')
      expectAnswered(target, answer, 'after 401')
      const seen = fixture.sim.control.requests(target.route)
      expect(seen).toHaveLength(2)
      expect(fixture.sim.control.counters().refreshCalls).toBe(1)
      // The retry carries the refreshed token, not the rejected one.
      expect(seen[0]?.headers.authorization).toBe(`Bearer ${fixture.account.accessToken}`)
      expect(seen[1]?.headers.authorization).not.toBe(seen[0]?.headers.authorization)
      expectNoSecrets(fixture, [answerText(answer)])
    },
  )

  it.each([chatJson, models])(
    '$name: a second 401 is reported as 502, never a refresh loop',
    async (target) => {
      const fixture = await useProxy()
      fixture.sim.control.injectFault({ route: target.route, kind: '401', count: 2 })
      const failed = await target.send(fixture, 'twice')
      expectError(failed, 502, 'ERR_UPSTREAM_UNAUTHORIZED')
      expect(fixture.sim.control.requests(target.route)).toHaveLength(2)
      expect(fixture.sim.control.counters().refreshCalls).toBe(1)
      const next = await target.send(fixture, 'twice')
      expectAnswered(target, next, 'twice')
      expectNoSecrets(fixture, [failed, next].map(answerText))
    },
  )
})

describe('Cloudflare challenge', () => {
  it.each([chatStream, chatJson, models])(
    '$name → 502 ERR_UPSTREAM_CHALLENGE after one upstream call, without the page',
    async (target) => {
      const fixture = await useProxy()
      fixture.sim.control.injectFault({ route: target.route, kind: 'cloudflare' })
      const failed = await target.send(fixture, 'challenged')
      expectError(failed, 502, 'ERR_UPSTREAM_CHALLENGE')
      expect(fixture.sim.control.requests(target.route)).toHaveLength(1)
      expect(fixture.sim.control.counters().refreshCalls).toBe(0)
      const next = await target.send(fixture, 'challenged')
      expectAnswered(target, next, 'challenged')
      expectNoSecrets(fixture, [failed, next].map(answerText))
    },
  )
})

describe('cut stream', () => {
  it.each([
    { target: responsesJson, status: 502, code: 'ERR_STREAM_CUT' },
    { target: chatJson, status: 502, code: 'ERR_STREAM_CUT' },
    // The models answer is dropped before its first byte: no answer at all.
    { target: models, status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' },
  ])(
    '$target.name: cut before any byte reached the client → $status $code',
    async ({ target, status, code }) => {
      const fixture = await useProxy()
      fixture.sim.control.configure({ streamChunks: 8 })
      fixture.sim.control.injectFault({ route: target.route, kind: 'cut' })
      const failed = await target.send(fixture, 'cut')
      expectError(failed, status, code)
      expect(failed.text).not.toContain('Echo')
      const next = await target.send(fixture, 'cut')
      expectAnswered(target, next, 'cut')
      expectNoSecrets(fixture, [failed, next].map(answerText))
    },
  )

  it('API-key mode: a JSON answer cut before its first byte → 503; a stream cut after bytes → truncated 200', async () => {
    const fixture = await useProxy({ openai: true })
    fixture.sim.control.configure({ streamChunks: 8 })
    fixture.sim.control.injectFault({ route: API_ROUTE, kind: 'cut' })
    const before = await responsesJson.send(fixture, 'json cut')
    expectError(before, 503, 'ERR_UPSTREAM_UNAVAILABLE')

    fixture.sim.control.injectFault({ route: API_ROUTE, kind: 'cut' })
    const after = await responsesStream.send(fixture, 'stream cut')
    expect(after.status).toBe(200)
    const events = parseSseFrames(after.text)
    expect(events.some((event) => event.event === 'response.output_text.delta')).toBe(true)
    expect(events.at(-1)?.event).not.toBe('response.completed')

    fixture.sim.control.injectFault({ route: API_ROUTE, kind: 'cut' })
    const chat = await chatStream.send(fixture, 'chat cut')
    expect(chat.status).toBe(200)
    expect(chat.text).not.toContain('[DONE]')
    expect(chat.text).toContain('"code":"ERR_STREAM_CUT"')

    const next = await responsesStream.send(fixture, 'whole')
    expectAnswered(responsesStream, next, 'whole')
    expectNoSecrets(fixture, [before, after, chat, next].map(answerText))
  })
})

describe('slow stream', () => {
  it.each([responsesStream, responsesJson, chatStream, chatJson])(
    '$name: relayed completely, just later',
    async (target) => {
      const fixture = await useProxy()
      fixture.sim.control.configure({ streamChunks: 4, slowStreamDelayMs: 60 })
      fixture.sim.control.injectFault({ route: target.route, kind: 'slow' })
      const started = Date.now()
      const slow = await target.send(fixture, 'slow')
      const elapsed = Date.now() - started
      expectAnswered(target, slow, 'slow')
      // 11 frames, 10 pauses of 60 ms: the fault really slowed it down.
      expect(elapsed).toBeGreaterThanOrEqual(550)
      expectNoSecrets(fixture, [answerText(slow)])
    },
  )

  it('API-key mode: a slow JSON answer arrives intact', async () => {
    const fixture = await useProxy({ openai: true })
    fixture.sim.control.configure({ slowStreamDelayMs: 400 })
    fixture.sim.control.injectFault({ route: API_ROUTE, kind: 'slow' })
    const started = Date.now()
    const slow = await responsesJson.send(fixture, 'held back')
    expect(Date.now() - started).toBeGreaterThanOrEqual(350)
    expectAnswered(responsesJson, slow, 'held back')
    expectNoSecrets(fixture, [answerText(slow)])
  })
})

describe('upstream redirect (PX-08)', () => {
  it.each([chatStream, chatJson, models])(
    '$name → 502; the redirect target receives 0 requests',
    async (target) => {
      const fixture = await useProxy()
      const recorder = await useRecorder()
      try {
        fixture.sim.control.configure({ redirectFaultLocation: recorder.url })
        fixture.sim.control.injectFault({ route: target.route, kind: 'redirect' })
        const failed = await target.send(fixture, 'redirected')
        expectError(failed, 502, 'ERR_UPSTREAM_BAD_RESPONSE')
        expect(failed.text).not.toContain(recorder.url)
        expect(fixture.sim.control.requests(target.route)).toHaveLength(1)
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(recorder.hits()).toBe(0)
        // Positive control: the recorder does count requests.
        await request(recorder.url).then((answer) => answer.body.text())
        expect(recorder.hits()).toBe(1)
        expectNoSecrets(fixture, [answerText(failed)])
      } finally {
        await recorder.close()
      }
    },
  )

  it('API-key mode → 502; the redirect target receives 0 requests (and so never the key)', async () => {
    const fixture = await useProxy({ openai: true })
    const recorder = await useRecorder()
    try {
      fixture.sim.control.configure({ redirectFaultLocation: recorder.url })
      fixture.sim.control.injectFault({ route: API_ROUTE, kind: 'redirect' })
      const failed = await responsesStream.send(fixture, 'redirected')
      expectError(failed, 502, 'ERR_UPSTREAM_BAD_RESPONSE')
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(recorder.hits()).toBe(0)
      const next = await responsesStream.send(fixture, 'redirected')
      expectAnswered(responsesStream, next, 'redirected')
      expectNoSecrets(fixture, [failed, next].map(answerText))
    } finally {
      await recorder.close()
    }
  })
})

describe('long streams (PX-09)', () => {
  const timeouts = { requestTimeoutMs: 300, headersTimeoutMs: 200 }

  it('the small timeouts are live: a request body that never completes → 408', async () => {
    const fixture = await useProxy(timeouts)
    const { port } = fixture.proxy
    const started = Date.now()
    const stalled = await rawHttp(
      port,
      `POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:${String(port)}\r\n` +
        `x-proxy-token: ${fixture.proxy.token.reveal()}\r\ncontent-type: application/json\r\n` +
        'content-length: 100\r\n\r\n{"model":',
    )
    expect(stalled.status).toBe(408)
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(fixture.upstreamCalls()).toBe(0)
    expectNoSecrets(fixture, [stalled.text])
  })

  it('a stream lasting many times requestTimeout and headersTimeout is relayed to its end', async () => {
    const fixture = await useProxy(timeouts)
    // 3 deltas → 11 frames, 400 ms apart: ~4 s, and every gap is longer than both timeouts.
    fixture.sim.control.configure({ streamChunks: 3, slowStreamDelayMs: 400 })
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'slow', count: 2 })
    const started = Date.now()
    const [responses, chat] = await Promise.all([
      responsesStream.send(fixture, 'long'),
      chatStream.send(fixture, 'long'),
    ])
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500)
    expectAnswered(responsesStream, responses, 'long')
    expect(parseSseFrames(responses.text).at(-1)?.event).toBe('response.completed')
    expectAnswered(chatStream, chat, 'long')
    expectNoSecrets(fixture, [responses, chat].map(answerText))
  })

  it('a client abort mid-stream closes the upstream answer within 1 s; a full stream ends cleanly', async () => {
    const standIn = await startStandInApi({ frames: 200, delayMs: 50 })
    const { proxy, logs, apiKey } = await startProxyOverApi(standIn.apiBase, timeouts)
    const headers = { 'content-type': 'application/json', 'x-proxy-token': proxy.token.reveal() }
    const body = JSON.stringify({ model: MODEL, input: 'long', stream: true })

    const controller = new AbortController()
    const response = await request(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers,
      body,
      signal: controller.signal,
    })
    expect(response.statusCode).toBe(200)
    response.body.on('error', () => undefined)
    // Read past the request and header timeouts (10 frames, 50 ms apart) before aborting.
    let received = ''
    await new Promise<void>((resolve) => {
      response.body.on('data', (chunk: Buffer) => {
        received += chunk.toString('utf8')
        if (received.split('\n\n').length > 10) resolve()
      })
    })
    const abortedAt = Date.now()
    controller.abort()
    await expect.poll(() => standIn.exchanges[0]?.closed, { timeout: 2_000 }).not.toBeNull()
    const closed = standIn.exchanges[0]?.closed
    expect(closed?.finished).toBe(false)
    expect((closed?.at ?? Infinity) - abortedAt).toBeLessThan(1_000)
    expect(standIn.exchanges[0]?.authorization).toBe(`Bearer ${apiKey}`)

    // Positive control: a stream the client reads to the end finishes on the upstream side too.
    const short = await startStandInApi({ frames: 3, delayMs: 10 })
    const other = await startProxyOverApi(short.apiBase, timeouts)
    const whole = await call(other.proxy, '/v1/responses', {
      headers: { 'content-type': 'application/json', 'x-proxy-token': other.proxy.token.reveal() },
      body,
    })
    expect(whole.status).toBe(200)
    expect(parseSseFrames(whole.text).at(-1)?.event).toBe('response.completed')
    await expect.poll(() => short.exchanges[0]?.closed?.finished).toBe(true)

    for (const text of [received, answerText(whole), ...logs, ...other.logs]) {
      expect(text).not.toContain(apiKey)
      expect(text).not.toContain(proxy.token.reveal())
      expect(text).not.toContain(other.proxy.token.reveal())
    }
  })
})
