/**
 * The proxy's resource limits over real sockets: the concurrency cap answers a controlled 503 above it and
 * serves everything under it (PX-11), the connection cap closes extra sockets and frees a slot on release
 * (DOS-08), a slowloris crowd is closed at the header timeout while a legitimate client is served (DOS-01), a
 * declared length past the limit is refused before any body byte is sent (DOS-03), and a chunked body ten times
 * the limit is refused having read about the limit, not the whole body (DOS-04). Every refusal costs nothing
 * upstream.
 */
import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { parseSseFrames } from '../support/sse-frames.js'
import { call, postJson, responsesBody, useProxy, type ProxyFixture } from './proxy-fixture.js'
import { startProxyOverApi, startStandInApi } from './sdk-support.js'

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** Resolves when the socket is closed by the other side. */
function closedBy(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      received += chunk
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      resolve(received)
    })
  })
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function streamsOf(fixture: ProxyFixture, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const answer = await postJson(fixture, responsesBody(`stream ${String(index)}`))
      if (answer.status === 200) {
        expect(parseSseFrames(answer.text).at(-1)?.event).toBe('response.completed')
      } else {
        expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'overloaded' } })
        expect(answer.headers['retry-after']).toBe('1')
      }
      return answer.status
    }),
  )
}

describe('concurrency cap (PX-11)', () => {
  it('200 parallel streams under the cap all succeed', async () => {
    const fixture = await useProxy()
    fixture.sim.control.configure({ streamChunks: 4, streamDelayMs: 50 })
    const statuses = await streamsOf(fixture, 200)
    expect(statuses.filter((status) => status === 200)).toHaveLength(200)
    expect(fixture.upstreamCalls()).toBe(200)
  })

  it('above a cap of 50 the rest get a controlled 503 at once, with 0 upstream calls for them', async () => {
    const fixture = await useProxy({ maxConcurrentRequests: 50 })
    fixture.sim.control.configure({ streamChunks: 4, streamDelayMs: 150 })
    const statuses = await streamsOf(fixture, 200)
    const served = statuses.filter((status) => status === 200).length
    const refused = statuses.filter((status) => status === 503).length
    expect(served + refused).toBe(200)
    expect(served).toBeGreaterThanOrEqual(50)
    expect(refused).toBeGreaterThan(0)
    expect(fixture.upstreamCalls()).toBe(served)
    // The slots come back: a request after the burst is served.
    expect((await postJson(fixture, responsesBody('after'))).status).toBe(200)
  })
})

describe('upstream connections', () => {
  it('300 slow streams are all open upstream at once: none waits for a pooled socket', async () => {
    const upstream = await startStandInApi({ frames: 4, delayMs: 1_000 })
    const { proxy } = await startProxyOverApi(upstream.apiBase)
    const body = JSON.stringify(responsesBody('slow'))
    const answers = Array.from({ length: 300 }, () =>
      request(`${proxy.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-proxy-token': proxy.token.reveal() },
        body,
      }).then(async (answer) => {
        await answer.body.text()
        return answer.statusCode
      }),
    )
    // Every stream lasts 4 s: all 300 must reach the upstream before the first one ends.
    await expect.poll(() => upstream.exchanges.length, { timeout: 3_500, interval: 50 }).toBe(300)
    expect(upstream.exchanges.every((exchange) => exchange.closed === null)).toBe(true)
    expect((await Promise.all(answers)).every((status) => status === 200)).toBe(true)
  }, 20_000)
})

describe('connection cap (DOS-08)', () => {
  it('closes sockets past the cap at once and gives a slot back when one is released', async () => {
    const fixture = await useProxy({ maxConnections: 20 })
    const { port } = fixture.proxy
    const held = await Promise.all(Array.from({ length: 20 }, () => openSocket(port)))
    const extra = await Promise.all(Array.from({ length: 100 }, () => openSocket(port)))
    const extraClosed = await Promise.all(extra.map((socket) => closedBy(socket)))
    expect(extraClosed.every((text) => text === '')).toBe(true)
    // The held ones are still open.
    expect(held.every((socket) => !socket.destroyed)).toBe(true)

    for (const socket of held.slice(0, 5)) socket.destroy()
    await wait(100)
    const answer = await call(fixture.proxy, '/healthz', { method: 'GET' })
    expect(answer.status).toBe(204)
    for (const socket of held) socket.destroy()
    expect(fixture.upstreamCalls()).toBe(0)
  })
})

describe('slow clients (DOS-01)', () => {
  it('1,000 slowloris sockets are closed at the header timeout while a real client is served', async () => {
    const headersTimeoutMs = 1_000
    const fixture = await useProxy({ headersTimeoutMs, requestTimeoutMs: 2_000 })
    const { port } = fixture.proxy
    const sockets = await Promise.all(Array.from({ length: 1_000 }, () => openSocket(port)))
    const started = Date.now()
    const closings = sockets.map((socket) => {
      socket.write('G')
      // One more byte every 10 s, as a slowloris does; the timeout comes first.
      const drip = setInterval(() => socket.write('E'), 10_000)
      return closedBy(socket).then((text) => {
        clearInterval(drip)
        return { text, after: Date.now() - started }
      })
    })
    const legit: number[] = []
    for (let index = 0; index < 10; index += 1) {
      const answer = await postJson(fixture, responsesBody(`legit ${String(index)}`))
      legit.push(answer.status)
    }
    const closed = await Promise.all(closings)
    expect(legit.every((status) => status === 200)).toBe(true)
    expect(closed.filter(({ text }) => text.startsWith('HTTP/1.1 408'))).toHaveLength(1_000)
    const latest = Math.max(...closed.map(({ after }) => after))
    // Every one was closed by the header timeout (408), before its next drip at 10 s could keep it alive.
    // How close to the timeout it happens depends on the machine's load, so that is not asserted.
    expect(latest).toBeLessThan(10_000)
    expect(fixture.upstreamCalls()).toBe(10)
  }, 20_000)
})

describe('body limits (DOS-03, DOS-04)', () => {
  it('a Content-Length one past the limit is refused with 413 before any body byte is sent', async () => {
    const limit = 64 * 1024
    const fixture = await useProxy({ maxBodyBytes: limit })
    const socket = await openSocket(fixture.proxy.port)
    const answer = closedBy(socket)
    socket.write(
      `POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:${String(fixture.proxy.port)}\r\n` +
        `X-Proxy-Token: ${fixture.proxy.token.reveal()}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${String(limit + 1)}\r\n\r\n`,
    )
    expect(await answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(fixture.upstreamCalls()).toBe(0)

    // Positive control: exactly the limit is read and forwarded.
    const padded = JSON.stringify({ ...responsesBody('fits'), pad: '' })
    const exact = JSON.stringify({
      ...responsesBody('fits'),
      pad: 'x'.repeat(limit - Buffer.byteLength(padded)),
    })
    expect(Buffer.byteLength(exact)).toBe(limit)
    expect((await postJson(fixture, JSON.parse(exact))).status).toBe(200)
  })

  it('a chunked body of ten times the limit gets 413 and is cut off long before its end', async () => {
    const limit = 1024 * 1024
    const fixture = await useProxy({ maxBodyBytes: limit })
    const socket = await openSocket(fixture.proxy.port)
    const state = { closed: false }
    const answer = closedBy(socket).then((text) => {
      state.closed = true
      return text
    })
    socket.write(
      `POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:${String(fixture.proxy.port)}\r\n` +
        `X-Proxy-Token: ${fixture.proxy.token.reveal()}\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n`,
    )
    const size = 0x4000
    const chunk = `4000\r\n${' '.repeat(size)}\r\n`
    for (let sent = 0; sent < limit * 10 && !state.closed; sent += size) {
      if (!socket.write(chunk)) {
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), answer])
      }
    }
    expect(await answer).toMatch(/^HTTP\/1\.1 413 /)
    // The proxy stops reading at the limit and closes: the client could not push the whole body (what it did
    // push beyond the limit sat in the kernel's socket buffers, never in the proxy's memory).
    expect(socket.bytesWritten).toBeLessThan(limit * 10)
    expect(fixture.upstreamCalls()).toBe(0)
  })
})
