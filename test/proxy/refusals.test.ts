/**
 * Every refusal of a running proxy, over the wire, each with its positive control and the simulator's request
 * log proving 0 upstream calls: the Host matrix with raw sockets (RB), absolute-form and duplicate Host, the
 * token (PX-01), browser headers (PX-02), non-JSON bodies (415), path variants (PX-03), wrong methods, and the
 * body limit by Content-Length and by chunked counting (413).
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { call, postJson, rawHttp, responsesBody, useProxy } from './proxy-fixture.js'

const BODY = JSON.stringify(responsesBody('hi'))

function rawPost(host: string | null, token: string, target = '/v1/responses'): string {
  const hostLine = host === null ? '' : `Host: ${host}\r\n`
  return (
    `POST ${target} HTTP/1.1\r\n${hostLine}X-Proxy-Token: ${token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(BODY))}\r\n` +
    `Connection: close\r\n\r\n${BODY}`
  )
}

describe('Host matrix over raw sockets (RB)', () => {
  it('accepts exactly 127.0.0.1:<port>; refuses every other value with 0 upstream calls', async () => {
    const fixture = await useProxy()
    const { port, token } = fixture.proxy
    const hostRefusal = `This Host is not allowed. Call http://127.0.0.1:${String(port)}/ instead.`
    const refused: [string, string | null, number][] = [
      ['RB-02', `localhost:${String(port)}`, 403],
      ['RB-04', '127.0.0.1', 403],
      ['RB-05', `0.0.0.0:${String(port)}`, 403],
      ['RB-06', `evil.example:${String(port)}`, 403],
      ['RB-07', `127.0.0.1.nip.io:${String(port)}`, 403],
      ['RB-08', `localhost.evil.example:${String(port)}`, 403],
      ['RB-09', `127.1:${String(port)}`, 403],
      ['RB-10', `2130706433:${String(port)}`, 403],
      ['RB-11', `0x7f000001:${String(port)}`, 403],
      ['RB-12', `LOCALHOST:${String(port)}`, 403],
      ['RB-13', `localhost.:${String(port)}`, 403],
      ['RB-14', `[::ffff:127.0.0.1]:${String(port)}`, 403],
      ['RB-15', `127.0.0.1:${String(port)}@evil`, 403],
      ['RB-16', `127.0.0.1:${String(port + 1)}`, 403],
      ['RB-17', null, 400],
    ]
    for (const [id, host, status] of refused) {
      const answer = await rawHttp(port, rawPost(host, token.reveal()))
      expect({ id, status: answer.status }).toEqual({ id, status })
      // The answer names the address to use and never echoes the value sent.
      if (status === 403) expect(answer.text).toContain(hostRefusal)
      if (host !== null && status === 403)
        expect(answer.text.replace(hostRefusal, '')).not.toContain(host)
    }
    expect(fixture.upstreamCalls()).toBe(0)

    const answer = await rawHttp(port, rawPost(`127.0.0.1:${String(port)}`, token.reveal()))
    expect(answer.status).toBe(200)
    expect(answer.text).toContain('response.completed')
    expect(fixture.upstreamCalls()).toBe(1)
  })

  it('bound on ::1 it accepts [::1]:<port> only (RB-03)', async () => {
    const fixture = await useProxy({ host: '::1' })
    const { port, token } = fixture.proxy
    expect(fixture.proxy.url).toBe(`http://[::1]:${String(port)}`)
    const refused = await rawHttp(port, rawPost(`127.0.0.1:${String(port)}`, token.reveal()), '::1')
    expect(refused.status).toBe(403)
    expect(fixture.upstreamCalls()).toBe(0)
    const ok = await rawHttp(port, rawPost(`[::1]:${String(port)}`, token.reveal()), '::1')
    expect(ok.status).toBe(200)
    expect(fixture.upstreamCalls()).toBe(1)
  })

  it('duplicate Host (RB-18) and absolute-form targets (RB-19, PX-04) → 400, CONNECT → 405 (PX-05), Upgrade → 400, or 403 with Origin or a foreign Host (PX-06), 0 upstream calls', async () => {
    const fixture = await useProxy()
    const { port, token } = fixture.proxy
    const host = `127.0.0.1:${String(port)}`
    const duplicate = rawPost(host, token.reveal()).replace('\r\n', `\r\nHost: ${host}\r\n`)
    expect((await rawHttp(port, duplicate)).status).toBe(400)
    const absolute = rawPost(host, token.reveal(), 'http://evil.example/v1/responses')
    expect((await rawHttp(port, absolute)).status).toBe(400)
    const connectLine = `CONNECT evil.example:443 HTTP/1.1\r\nHost: ${host}\r\nX-Proxy-Token: ${token.reveal()}\r\nConnection: close\r\n\r\n`
    expect((await rawHttp(port, connectLine)).status).toBe(405)
    for (const protocol of ['websocket', 'h2c']) {
      const upgrade = `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nX-Proxy-Token: ${token.reveal()}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`
      expect((await rawHttp(port, upgrade)).status).toBe(400)
      // A browser's upgrade (Origin) or a rebinding one (foreign Host) gets the same 403 as any other request.
      const browser = upgrade.replace('\r\n\r\n', '\r\nOrigin: https://evil.example\r\n\r\n')
      expect((await rawHttp(port, browser)).status).toBe(403)
      const rebound = upgrade.replace(`Host: ${host}`, `Host: evil.example:${String(port)}`)
      expect((await rawHttp(port, rebound)).status).toBe(403)
    }
    expect(fixture.upstreamCalls()).toBe(0)
  })
})

describe('token (PX-01)', () => {
  it('no, wrong, truncated, right-length-wrong and 200 random tokens → 401, 0 upstream calls; the right one → 200', async () => {
    const fixture = await useProxy()
    const value = fixture.proxy.token.reveal()
    const flipped = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`
    const headers: Record<string, string>[] = [
      {},
      { 'x-proxy-token': 'wrong' },
      { 'x-proxy-token': value.slice(0, 20) },
      { 'x-proxy-token': flipped },
      { authorization: `Bearer ${flipped}` },
      { authorization: `Bearer ${fixture.account.accessToken}` },
    ]
    for (let index = 0; index < 200; index += 1) {
      headers.push({ 'x-proxy-token': randomBytes(32).toString('base64url') })
    }
    for (const extra of headers) {
      const answer = await call(fixture.proxy, '/v1/responses', {
        headers: { 'content-type': 'application/json', ...extra },
        body: BODY,
      })
      expect(answer.status).toBe(401)
      expect(answer.headers['www-authenticate']).toBe('Bearer')
      expect(JSON.parse(answer.text)).toEqual({
        error: { code: 'unauthorized', message: expect.any(String) as string },
      })
    }
    expect(fixture.upstreamCalls()).toBe(0)

    const ok = await call(fixture.proxy, '/v1/responses', {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${value}` },
      body: BODY,
    })
    expect(ok.status).toBe(200)
    expect(fixture.upstreamCalls()).toBe(1)
  })
})

describe('browser headers (PX-02) and content types (415)', () => {
  it('a valid token with Origin or a browser Sec-Fetch-* → 403; text/plain or a form → 415; 0 upstream calls', async () => {
    const fixture = await useProxy()
    for (const extra of [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
      { 'sec-fetch-mode': 'cors', origin: 'http://127.0.0.1:3000' },
    ]) {
      const answer = await postJson(fixture, responsesBody(), extra)
      expect(answer.status).toBe(403)
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'forbidden_origin' } })
      expect(answer.headers['cache-control']).toBe('no-store')
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const answer = await call(fixture.proxy, '/v1/responses', {
        headers: { 'content-type': type, ...fixture.auth() },
        body: BODY,
      })
      expect(answer.status).toBe(415)
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'unsupported_media_type' } })
    }
    expect(fixture.upstreamCalls()).toBe(0)
    const charset = await postJson(fixture, responsesBody(), {
      'content-type': 'application/json; charset=utf-8',
    })
    expect(charset.status).toBe(200)
    // Node's own fetch adds a lone Sec-Fetch-Mode: cors; it is a program, not a page, and is served.
    const nodeFetch = await fetch(`${fixture.proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: BODY,
    })
    expect(nodeFetch.status).toBe(200)
    await nodeFetch.text()
    expect(fixture.upstreamCalls()).toBe(2)
  })
})

describe('paths and methods (PX-03)', () => {
  it('only exact paths route: variants → 404, a wrong method → 405 with Allow; 0 upstream calls', async () => {
    const fixture = await useProxy()
    for (const path of [
      '/v1/responses/',
      '/V1/RESPONSES',
      '/v1/responses?x=1',
      '//evil.com/v1/responses',
      '/v1/responses/../../x',
      '/%2e%2e/',
      '/v1/responses;x=1',
      '/shutdown',
    ]) {
      const answer = await postJson(fixture, responsesBody(), {}, path)
      expect({ path, status: answer.status }).toEqual({ path, status: 404 })
    }
    const wrong = await call(fixture.proxy, '/v1/responses', {
      method: 'GET',
      headers: fixture.auth(),
    })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.allow).toBe('POST')
    expect(fixture.upstreamCalls()).toBe(0)
  })
})

describe('body limit (413)', () => {
  it('a declared Content-Length above the limit and a chunked body past it → 413, 0 upstream calls', async () => {
    const fixture = await useProxy({ maxBodyBytes: 1024 })
    const big = JSON.stringify(responsesBody('x'.repeat(4096)))
    const declared = await postJson(fixture, JSON.parse(big))
    expect(declared.status).toBe(413)
    expect(JSON.parse(declared.text)).toMatchObject({ error: { code: 'payload_too_large' } })

    // A Readable body has no declared length: undici sends it chunked.
    const chunks = Readable.from([
      ...Array.from({ length: 8 }, () => Buffer.from(' '.repeat(512))),
      Buffer.from(BODY),
    ])
    const chunked = await call(fixture.proxy, '/v1/responses', {
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: chunks,
    })
    expect(chunked.status).toBe(413)
    expect(fixture.upstreamCalls()).toBe(0)

    const small = Readable.from([Buffer.from(BODY)])
    const ok = await call(fixture.proxy, '/v1/responses', {
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: small,
    })
    expect(ok.status).toBe(200)
  })

  it('bad JSON → 400 invalid_json, 0 upstream calls', async () => {
    const fixture = await useProxy()
    for (const body of ['{', '[]', '"x"', '']) {
      const answer = await call(fixture.proxy, '/v1/responses', {
        headers: { 'content-type': 'application/json', ...fixture.auth() },
        body,
      })
      expect(answer.status).toBe(400)
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'invalid_json' } })
    }
    expect(fixture.upstreamCalls()).toBe(0)
  })
})
