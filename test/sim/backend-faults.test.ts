/**
 * Injected faults on the Codex backend, each applied once and followed by a normal answer (the positive
 * control): a stream cut mid-way, a slow stream, and the answers the dispatcher plays in the route's place (500,
 * 401, Cloudflare challenge, redirect). Also the stream's manners: a client leaving mid-stream leaves the server
 * healthy with no timer behind, and a client that stops reading is waited for, not overrun.
 */
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import type { Simulator } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import { codexHeaders, signIn, type SignedInAccount } from '../support/sim-tokens.js'
import { joinDeltas, parseSseFrames, readUntilClosed } from '../support/sse-frames.js'
import { codexBody, postCodex, textEventOrder } from './backend-support.js'

const ROUTE = '/backend-api/codex/responses'

async function expectNormalAnswer(sim: Simulator, account: SignedInAccount): Promise<void> {
  const response = await postCodex(sim, account, codexBody('after the fault'))
  expect(response.status).toBe(200)
  const events = parseSseFrames(await response.text())
  expect(events.at(-1)?.event).toBe('response.completed')
  expect(joinDeltas(events, 'response.output_text.delta')).toBe('Echo: after the fault')
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
}

describe('codex/responses faults', () => {
  it('cut: sends part of the stream, then drops the connection with no terminal event', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    sim.control.injectFault({ route: ROUTE, kind: 'cut' })
    const response = await postCodex(sim, account, codexBody('cut me'))
    expect(response.status).toBe(200)
    const { text, broken } = await readUntilClosed(response)
    expect(broken).toBe(true)
    const events = parseSseFrames(text).map((entry) => entry.event)
    expect(events.length).toBeGreaterThan(4)
    expect(events).toEqual(textEventOrder(8).slice(0, events.length))
    expect(events).toContain('response.output_text.delta')
    expect(events).not.toContain('response.completed')
    await expectNormalAnswer(sim, account)
  })

  it('cut with a delay between events also ends without a terminal event', async () => {
    const sim = await useSimulator({ config: { streamDelayMs: 5, streamChunks: 4 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    sim.control.injectFault({ route: ROUTE, kind: 'cut' })
    const { text, broken } = await readUntilClosed(
      await postCodex(sim, account, codexBody('cut me')),
    )
    expect(broken).toBe(true)
    expect(parseSseFrames(text).map((entry) => entry.event)).not.toContain('response.completed')
    await expectNormalAnswer(sim, account)
  })

  it('slow: spreads the events out by slowStreamDelayMs and still completes in order', async () => {
    const sim = await useSimulator({ config: { slowStreamDelayMs: 25, streamChunks: 4 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    sim.control.injectFault({ route: ROUTE, kind: 'slow' })
    const started = performance.now()
    const response = await postCodex(sim, account, codexBody('slowly'))
    expect(response.status).toBe(200)
    const events = parseSseFrames(await response.text())
    const elapsed = performance.now() - started
    expect(events.map((entry) => entry.event)).toEqual(textEventOrder(4))
    // Eleven pauses between twelve events; only a generous lower bound, never an upper one.
    expect(elapsed).toBeGreaterThan(11 * 25 * 0.5)
    await expectNormalAnswer(sim, account)
  })

  it.each([
    ['500', 500],
    ['401', 401],
    ['cloudflare', 403],
    ['redirect', 302],
  ] as const)('%s: answered in the route’s place once, then normal', async (kind, status) => {
    const sim = await useSimulator({ config: { redirectFaultLocation: 'https://example.com/x' } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    sim.control.injectFault({ route: ROUTE, kind })
    const response = await postCodex(sim, account, codexBody('x'))
    expect(response.status).toBe(status)
    const body = await response.text()
    switch (kind) {
      case '500':
        expect(JSON.parse(body)).toMatchObject({ error: { code: 'server_error' } })
        break
      case '401':
        expect(JSON.parse(body)).toMatchObject({ error: { code: 'token_expired' } })
        break
      case 'cloudflare':
        expect(response.headers.get('content-type')).toMatch(/^text\/html/)
        expect(response.headers.get('cf-mitigated')).toBe('challenge')
        expect(body).toContain('Just a moment')
        break
      case 'redirect':
        expect(response.headers.get('location')).toBe('https://example.com/x')
        break
    }
    expect(sim.control.counters().responsesByAccount).toEqual({})
    await expectNormalAnswer(sim, account)
  })

  it('a fault queued for one route leaves the others alone', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    sim.control.injectFault({ route: '/backend-api/wham/usage', kind: '500', count: 2 })
    await expectNormalAnswer(sim, account)
    const usage = await fetch(`${sim.backendBase}/wham/usage`, {
      headers: codexHeaders(account),
    })
    expect(usage.status).toBe(500)
  })
})

describe('codex/responses stream manners', () => {
  it('survives a client that leaves mid-stream, and leaves no timer running', async () => {
    const sim = await useSimulator({ config: { streamDelayMs: 40, streamChunks: 50 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    // Other parts of the process (fetch, the fixture) start short timers of their own: take the quietest reading.
    let timersBefore = activeTimers()
    for (let i = 0; i < 5; i += 1) {
      await sleep(10)
      timersBefore = Math.min(timersBefore, activeTimers())
    }
    const abort = new AbortController()
    const response = await fetch(`${sim.backendBase}/codex/responses`, {
      method: 'POST',
      headers: codexHeaders(account),
      body: JSON.stringify(codexBody('leave early')),
      signal: abort.signal,
    })
    expect(response.status).toBe(200)
    const reader = response.body?.getReader()
    const first = await reader?.read()
    expect(first?.done).toBe(false)
    // The server is pausing between events: its timer shows up.
    let timersDuring = activeTimers()
    for (let i = 0; i < 20 && timersDuring <= timersBefore; i += 1) {
      await sleep(10)
      timersDuring = activeTimers()
    }
    expect(timersDuring).toBeGreaterThan(timersBefore)
    abort.abort()
    await expect(reader?.read()).rejects.toThrow()
    // The server notices the close and drops its pause timer.
    for (let i = 0; i < 50 && activeTimers() > timersBefore; i += 1) await sleep(10)
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore)
    sim.control.configure({ streamDelayMs: 0, streamChunks: 8 })
    await expectNormalAnswer(sim, account)
  })

  it('waits for a client that stops reading, then delivers the whole stream', async () => {
    const sim = await useSimulator({ config: { streamChunks: 2_000 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const input = 'x'.repeat(2_000_000)
    const payload = JSON.stringify(codexBody(input))
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        `${sim.backendBase}/codex/responses`,
        { method: 'POST', headers: codexHeaders(account) },
        (res) => {
          res.pause()
          // Hold the stream long enough for the server's socket buffer to fill up.
          setTimeout(() => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => chunks.push(chunk))
            res.on('end', () => {
              resolve(Buffer.concat(chunks).toString('utf8'))
            })
            res.on('error', reject)
            res.resume()
          }, 200)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
    const events = parseSseFrames(text)
    expect(events.map((entry) => entry.event)).toEqual(textEventOrder(2_000))
    expect(joinDeltas(events, 'response.output_text.delta')).toBe(`Echo: ${input}`)
  })
})
