/**
 * Malformed and ambiguous HTTP over raw sockets, which no client library would send: request smuggling shapes
 * (PX-07: Content-Length with Transfer-Encoding, two Content-Lengths, an obs-folded header), broken Host values
 * (RB-20 unterminated IPv6 literal, RB-21 an 8 KiB Host, RB-22 CR/LF/NUL inside Host), a WebSocket upgrade with
 * a malformed Origin (RB-23) and HTTP/1.0 without Host (RB-24). Each is refused with 400/403/431, costs nothing
 * upstream, and leaves the proxy serving: the well-formed request after each one succeeds.
 */
import { describe, expect, it } from 'vitest'
import { rawHttp, responsesBody, useProxy, type ProxyFixture } from './proxy-fixture.js'

const BODY = JSON.stringify(responsesBody('wire'))
const LENGTH = String(Buffer.byteLength(BODY))

function head(fixture: ProxyFixture, lines: string[], target = '/v1/responses'): string {
  const { port, token } = fixture.proxy
  return [
    `POST ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${String(port)}`,
    `X-Proxy-Token: ${token.reveal()}`,
    'Content-Type: application/json',
    ...lines,
    'Connection: close',
    '',
    '',
  ].join('\r\n')
}

async function expectStillServing(fixture: ProxyFixture, calls: number): Promise<void> {
  const ok = await rawHttp(fixture.proxy.port, head(fixture, [`Content-Length: ${LENGTH}`]) + BODY)
  expect(ok.status).toBe(200)
  expect(fixture.upstreamCalls()).toBe(calls)
}

describe('request smuggling (PX-07)', () => {
  it.each([
    ['CL + TE', [`Content-Length: ${LENGTH}`, 'Transfer-Encoding: chunked'], BODY],
    ['TE + CL', ['Transfer-Encoding: chunked', `Content-Length: ${LENGTH}`], BODY],
    ['two Content-Lengths', [`Content-Length: ${LENGTH}`, `Content-Length: ${LENGTH}`], BODY],
    ['differing Content-Lengths', [`Content-Length: ${LENGTH}`, 'Content-Length: 5'], BODY],
    ['obs-fold', [`Content-Length: ${LENGTH}`, 'X-Folded: a', ' b'], BODY],
    ['TE: chunked, identity', ['Transfer-Encoding: chunked, identity'], `0\r\n\r\n`],
    ['TE with a space before the colon', ['Transfer-Encoding : chunked'], `0\r\n\r\n`],
    ['a bad chunk size', ['Transfer-Encoding: chunked'], `zz\r\n${BODY}\r\n0\r\n\r\n`],
  ])('%s → 400, 0 upstream calls, still serving', async (_name, lines, body) => {
    const fixture = await useProxy()
    const answer = await rawHttp(fixture.proxy.port, head(fixture, lines) + body)
    expect(answer.status).toBe(400)
    expect(fixture.upstreamCalls()).toBe(0)
    await expectStillServing(fixture, 1)
  })

  it('a second request smuggled behind a body is never served', async () => {
    const fixture = await useProxy()
    const smuggled = `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${String(fixture.proxy.port)}\r\n\r\n`
    const chunked = `0\r\n\r\n${smuggled}`
    const answer = await rawHttp(
      fixture.proxy.port,
      head(fixture, [`Content-Length: ${String(chunked.length)}`, 'Transfer-Encoding: chunked']) +
        chunked,
    )
    expect(answer.status).toBe(400)
    expect(answer.text.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    expect(fixture.upstreamCalls()).toBe(0)
  })
})

describe('broken Host values and old HTTP (RB-20…RB-24)', () => {
  it.each([
    ['RB-20 unterminated IPv6 literal', 'GET', ['Host: [::1'], [400, 403]],
    ['RB-21 8 KiB Host', 'GET', [`Host: 127.0.0.1:1${'1'.repeat(8 * 1024)}`], [400, 403, 431]],
    ['RB-22 NUL in Host', 'GET', ['Host: 127.0.0.1\u0000.evil'], [400]],
    ['RB-22 CR in Host', 'GET', ['Host: 127.0.0.1\r.evil'], [400]],
    ['RB-22 LF in Host', 'GET', ['Host: 127.0.0.1:1\nX-Injected: 1'], [400, 403]],
  ])('%s → refused, process alive', async (_name, method, lines, statuses) => {
    const fixture = await useProxy()
    const request = `${method} /v1/models HTTP/1.1\r\n${lines.join('\r\n')}\r\nX-Proxy-Token: ${fixture.proxy.token.reveal()}\r\nConnection: close\r\n\r\n`
    const answer = await rawHttp(fixture.proxy.port, request)
    expect(statuses).toContain(answer.status)
    expect(fixture.upstreamCalls()).toBe(0)
    await expectStillServing(fixture, 1)
  })

  it('RB-23 a WebSocket upgrade with a malformed Origin → 403, alive', async () => {
    const fixture = await useProxy()
    const { port, token } = fixture.proxy
    const upgrade = [
      'GET /v1/responses HTTP/1.1',
      `Host: 127.0.0.1:${String(port)}`,
      `X-Proxy-Token: ${token.reveal()}`,
      'Origin: http://[',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      '',
      '',
    ].join('\r\n')
    const answer = await rawHttp(port, upgrade)
    expect(answer.status).toBe(403)
    expect(answer.text).not.toContain('101 Switching Protocols')
    expect(fixture.upstreamCalls()).toBe(0)
    await expectStillServing(fixture, 1)
  })

  it('RB-24 HTTP/1.0 without Host → 400; with the right Host it is served', async () => {
    const fixture = await useProxy()
    const { port, token } = fixture.proxy
    const without = `POST /v1/responses HTTP/1.0\r\nX-Proxy-Token: ${token.reveal()}\r\nContent-Type: application/json\r\nContent-Length: ${LENGTH}\r\n\r\n${BODY}`
    expect((await rawHttp(port, without)).status).toBe(400)
    expect(fixture.upstreamCalls()).toBe(0)
    const withHost = without.replace('\r\n', `\r\nHost: 127.0.0.1:${String(port)}\r\n`)
    expect((await rawHttp(port, withHost)).status).toBe(200)
    expect(fixture.upstreamCalls()).toBe(1)
  })
})
