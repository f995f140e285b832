/**
 * PX-12: the bearer rotates while a stream is in flight. A long stream opened with access token A keeps running
 * while a refresh replaces A with B — forced by an upstream 401 (the token manager's one recovery), or by A
 * expiring on a clock the simulator and the token manager share. Afterwards every request the simulator
 * records carries B, none carries A (which, in the expiry case, the simulator now refuses), there was exactly
 * one refresh, and the stream opened with A ends with its terminal event, complete. Answers and logs are
 * scanned for every issued secret and the proxy token.
 */
import { request, type Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import type { RunningProxy } from '../../src/proxy/index.js'
import { joinDeltas, parseSseFrames } from '../support/sse-frames.js'
import { codexHeaders } from '../support/sim-tokens.js'
import { postJson, RESPONSES_ROUTE, responsesBody, useProxy } from './proxy-fixture.js'
import { answerText, expectNoSecrets, useClockedProxy } from './sdk-support.js'

/** A stream opened through the proxy, read in the background. */
interface OpenStream {
  /** Resolves with the whole body once the stream ends. */
  done: Promise<string>
  /** Whether the stream has ended yet. */
  ended(): boolean
}

/** Opens a streamed Responses request and waits for its first bytes. */
async function openStream(proxy: RunningProxy, text: string): Promise<OpenStream> {
  const response: Dispatcher.ResponseData = await request(`${proxy.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-proxy-token': proxy.token.reveal() },
    body: JSON.stringify(responsesBody(text)),
  })
  expect(response.statusCode).toBe(200)
  response.body.setEncoding('utf8')
  let received = ''
  let ended = false
  const first = new Promise<void>((resolve) =>
    response.body.once('data', () => {
      resolve()
    }),
  )
  const done = (async () => {
    for await (const chunk of response.body) received += String(chunk)
    ended = true
    return received
  })()
  await first
  return { done, ended: () => ended }
}

/** The bearer of each recorded upstream Responses request, oldest first. */
function bearers(sim: {
  control: { requests(route: string): { headers: Record<string, unknown> }[] }
}) {
  return sim.control.requests(RESPONSES_ROUTE).map((seen) => String(seen.headers.authorization))
}

/** The in-flight stream ended with `response.completed` and its whole text. */
function expectComplete(body: string, text: string): void {
  const events = parseSseFrames(body)
  expect(events.at(-1)?.event).toBe('response.completed')
  expect(joinDeltas(events, 'response.output_text.delta')).toBe(`Echo: ${text}`)
}

describe('bearer rotation mid-flight (PX-12)', () => {
  it('a 401 forces a refresh while a stream with A runs: later requests carry B, the stream completes', async () => {
    const fixture = await useProxy()
    const tokenA = `Bearer ${fixture.account.accessToken}`
    // Only the first request is slow: 10 deltas → 18 frames 200 ms apart, about 3.4 s.
    fixture.sim.control.configure({ streamChunks: 10, slowStreamDelayMs: 200 })
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'slow' })
    const inFlight = await openStream(fixture.proxy, 'still streaming')

    // Positive control before the swap: a request carries A.
    const before = await postJson(fixture, responsesBody('before'))
    expect(before.status).toBe(200)
    expect(bearers(fixture.sim)).toEqual([tokenA, tokenA])

    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: '401' })
    const swapped = await postJson(fixture, responsesBody('swap'))
    expect(swapped.status).toBe(200)
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
    const afterSwap = await Promise.all(
      ['one', 'two', 'three'].map((text) => postJson(fixture, responsesBody(text))),
    )
    for (const answer of afterSwap) expect(answer.status).toBe(200)

    const seen = bearers(fixture.sim)
    // [stream A, before A, 401'd A, retry B, three with B]
    expect(seen).toHaveLength(7)
    expect(seen.slice(0, 3)).toEqual([tokenA, tokenA, tokenA])
    const tokenB = seen[3]
    expect(tokenB).toMatch(/^Bearer \S+$/)
    expect(tokenB).not.toBe(tokenA)
    expect(seen.slice(3)).toEqual([tokenB, tokenB, tokenB, tokenB])
    expect(seen.slice(3)).not.toContain(tokenA)
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
    expect(inFlight.ended()).toBe(false)

    // Still running when the swap happened, and complete now.
    const body = await inFlight.done
    expectComplete(body, 'still streaming')
    expectNoSecrets(fixture, [body, ...[before, swapped, ...afterSwap].map(answerText)])
  })

  it('A expires mid-stream: one refresh, every later request carries B, A is refused, the stream completes', async () => {
    const fixture = await useClockedProxy()
    const { sim, clock, account, proxy } = fixture
    const tokenA = `Bearer ${account.accessToken}`
    sim.control.configure({ streamChunks: 10, slowStreamDelayMs: 200 })
    sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'slow' })
    const inFlight = await openStream(proxy, 'outlives its token')

    // A's lifetime (1 h) passes on the shared clock while the stream runs.
    clock.advance(3_601_000)
    const direct = await request(`${sim.backendBase}/codex/responses`, {
      method: 'POST',
      headers: codexHeaders(account),
      body: JSON.stringify({ ...responsesBody('direct with A'), store: false }),
    })
    const directText = await direct.body.text()
    // Negative control: the simulator refuses A now.
    expect(direct.statusCode).toBe(401)
    expect(directText).toContain('token_expired')

    const auth = { 'content-type': 'application/json', 'x-proxy-token': proxy.token.reveal() }
    const afterSwap = await Promise.all(
      ['one', 'two', 'three', 'four'].map(async (text) => {
        const answer = await request(`${proxy.url}/v1/responses`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify(responsesBody(text)),
        })
        return {
          status: answer.statusCode,
          headers: answer.headers,
          text: await answer.body.text(),
        }
      }),
    )
    for (const answer of afterSwap) expect(answer.status).toBe(200)
    // Concurrent callers share one refresh (single flight), made before sending: no 401 was met.
    expect(sim.control.counters().refreshCalls).toBe(1)

    const seen = bearers(sim)
    // [stream A, direct A (refused), four through the proxy]
    expect(seen).toHaveLength(6)
    expect(seen.slice(0, 2)).toEqual([tokenA, tokenA])
    const tokenB = seen[2]
    expect(tokenB).not.toBe(tokenA)
    expect(seen.slice(2)).toEqual([tokenB, tokenB, tokenB, tokenB])
    expect(inFlight.ended()).toBe(false)

    const body = await inFlight.done
    expectComplete(body, 'outlives its token')
    expectNoSecrets(fixture, [body, directText, ...afterSwap.map(answerText)])
  })
})
