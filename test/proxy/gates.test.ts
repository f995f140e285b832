/**
 * The proxy's gates as pure functions, without a server: the Host allowlist (RB matrix values), the Origin and
 * `Sec-Fetch-*` refusal (PX-02), the JSON content-type rule, the constant-time token (PX-01), the exact route
 * table (PX-03), the declared size limit, and the order in which they apply.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import {
  contentTypeGate,
  createProxyToken,
  hostGate,
  listenerHosts,
  matchRoute,
  originGate,
  runGates,
  sizeGate,
  tokenGate,
  type GateRequest,
} from '../../src/proxy/index.js'

const PORT = 43123
const HOSTS = listenerHosts('127.0.0.1', PORT)
const token = createProxyToken()

function request(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  rawHeaders?: string[],
): GateRequest {
  const raw =
    rawHeaders ?? Object.entries(headers).flatMap(([name, value]) => [name, String(value)])
  return { method, url, headers, rawHeaders: raw }
}

const config = { allowedHosts: HOSTS, token, maxBodyBytes: 1024, shutdownEnabled: false }
const good = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({
  host: `127.0.0.1:${String(PORT)}`,
  'x-proxy-token': token.reveal(),
  'content-type': 'application/json',
  'content-length': '2',
  ...extra,
})

describe('hostGate (RB matrix)', () => {
  it('accepts exactly the bound address and port (RB-01; RB-03 on ::1)', () => {
    expect(HOSTS).toEqual([`127.0.0.1:${String(PORT)}`])
    for (const host of HOSTS) expect(hostGate(request('GET', '/', { host }), HOSTS)).toBeNull()
    const v6 = listenerHosts('::1', PORT)
    expect(hostGate(request('GET', '/', { host: `[::1]:${String(PORT)}` }), v6)).toBeNull()
    expect(hostGate(request('GET', '/', { host: `127.0.0.1:${String(PORT)}` }), v6)?.status).toBe(
      403,
    )
  })

  it.each([
    ['RB-02', `localhost:${String(PORT)}`],
    ['RB-04', '127.0.0.1'],
    ['RB-05', `0.0.0.0:${String(PORT)}`],
    ['RB-06', `evil.example:${String(PORT)}`],
    ['RB-07', `127.0.0.1.nip.io:${String(PORT)}`],
    ['RB-08', `localhost.evil.example:${String(PORT)}`],
    ['RB-09', `127.1:${String(PORT)}`],
    ['RB-10', `2130706433:${String(PORT)}`],
    ['RB-11', `0x7f000001:${String(PORT)}`],
    ['RB-12', `LOCALHOST:${String(PORT)}`],
    ['RB-13', `localhost.:${String(PORT)}`],
    ['RB-14', `[::ffff:127.0.0.1]:${String(PORT)}`],
    ['RB-15', `127.0.0.1:${String(PORT)}@evil`],
    ['RB-16', `127.0.0.1:${String(PORT + 1)}`],
    ['RB-03', `[::1]:${String(PORT)}`],
  ])('%s %s → 403 forbidden_host', (_id, host) => {
    const refused = hostGate(request('GET', '/', { host }), HOSTS)
    expect(refused?.status).toBe(403)
    expect(refused?.code).toBe('forbidden_host')
    // The message names the address to use, never the value sent.
    expect(refused?.message).toBe(
      `This Host is not allowed. Call http://127.0.0.1:${String(PORT)}/ instead.`,
    )
  })

  it('missing Host → 400 (RB-17); duplicate Host → 400 (RB-18)', () => {
    expect(hostGate(request('GET', '/', {}, []), HOSTS)?.status).toBe(400)
    const duplicate = request('GET', '/', { host: HOSTS[0] }, [
      'Host',
      HOSTS[0] ?? '',
      'host',
      HOSTS[0] ?? '',
    ])
    expect(hostGate(duplicate, HOSTS)?.status).toBe(400)
  })

  it('an absolute-form target → 400 even with a good Host (RB-19, PX-04)', () => {
    const refused = hostGate(request('POST', 'http://evil/v1/responses', { host: HOSTS[0] }), HOSTS)
    expect(refused?.status).toBe(400)
  })
})

describe('originGate (PX-02)', () => {
  it.each([
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'none' },
    { 'sec-fetch-dest': 'empty' },
    { 'sec-fetch-user': '?1' },
    // What Chromium sends with a no-cors fetch and with a form POST.
    { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'empty' },
    { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-user': '?1' },
    { 'sec-fetch-mode': 'cors', origin: 'http://localhost:3000' },
  ])('%o → 403 forbidden_origin', (headers) => {
    expect(originGate(headers)).toMatchObject({ status: 403, code: 'forbidden_origin' })
  })

  it('no browser headers → passes; a lone Sec-Fetch-Mode (Node fetch, the OpenAI SDK) passes', () => {
    expect(originGate({ host: 'x', referer: 'y' })).toBeNull()
    expect(originGate({ 'sec-fetch-mode': 'cors', 'user-agent': 'node' })).toBeNull()
  })
})

describe('contentTypeGate', () => {
  it.each([
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonx',
  ])('%s with a body → 415', (type) => {
    expect(contentTypeGate({ 'content-type': type, 'content-length': '5' })?.status).toBe(415)
  })

  it('a body without a type → 415; a chunked body counts as a body', () => {
    expect(contentTypeGate({ 'content-length': '5' })?.status).toBe(415)
    expect(
      contentTypeGate({ 'transfer-encoding': 'chunked', 'content-type': 'text/plain' })?.status,
    ).toBe(415)
  })

  it('application/json (with parameters) passes; no body passes', () => {
    expect(
      contentTypeGate({ 'content-type': 'application/json', 'content-length': '2' }),
    ).toBeNull()
    expect(
      contentTypeGate({ 'content-type': 'application/json; charset=utf-8', 'content-length': '2' }),
    ).toBeNull()
    expect(contentTypeGate({})).toBeNull()
    expect(contentTypeGate({ 'content-length': '0', 'content-type': 'text/plain' })).toBeNull()
  })
})

describe('tokenGate (PX-01)', () => {
  it('accepts the token in X-Proxy-Token or Authorization: Bearer', () => {
    expect(tokenGate({ 'x-proxy-token': token.reveal() }, token)).toBeNull()
    expect(tokenGate({ authorization: `Bearer ${token.reveal()}` }, token)).toBeNull()
  })

  it('no, wrong, truncated, right-length-wrong and 200 random tokens → 401 with www-authenticate', () => {
    const value = token.reveal()
    const flipped = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`
    const candidates: IncomingHttpHeaders[] = [
      {},
      { 'x-proxy-token': 'wrong' },
      { 'x-proxy-token': value.slice(0, -1) },
      { 'x-proxy-token': flipped },
      { 'x-proxy-token': `${value}x` },
      { authorization: `Basic ${value}` },
      { authorization: `Bearer ${flipped}` },
      { authorization: value },
    ]
    for (let index = 0; index < 200; index += 1) {
      candidates.push({ 'x-proxy-token': randomBytes(32).toString('base64url') })
    }
    for (const headers of candidates) {
      const refused = tokenGate(headers, token)
      expect(refused?.status).toBe(401)
      expect(refused?.headers?.['www-authenticate']).toBe('Bearer')
    }
  })

  it('tokens are fresh 256-bit base64url values', () => {
    const other = createProxyToken()
    expect(other.reveal()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(other.equals(token)).toBe(false)
    expect(String(other)).not.toContain(other.reveal())
    expect(Secret.isSecret(other)).toBe(true)
  })
})

describe('matchRoute (PX-03): exact paths, no query, no normalisation', () => {
  it.each([
    '/v1/responses/',
    '/V1/RESPONSES',
    '/v1/responses?x=1',
    '//evil.com/v1/responses',
    '/v1/responses/../../x',
    '/%2e%2e/',
    '/v1/%72esponses',
    '/v1/responses;x=1',
    '/v1//responses',
    '/shutdown',
  ])('%s → not found', (path) => {
    expect(matchRoute('POST', path, false)).toEqual({ kind: 'not_found' })
  })

  it('known paths route; the wrong method is 405 with Allow', () => {
    expect(matchRoute('POST', '/v1/responses', false)).toEqual({
      kind: 'route',
      route: 'responses',
    })
    expect(matchRoute('POST', '/responses', false)).toEqual({ kind: 'route', route: 'responses' })
    expect(matchRoute('GET', '/v1/models', false)).toEqual({ kind: 'route', route: 'models' })
    expect(matchRoute('GET', '/v1/responses', false)).toEqual({
      kind: 'method_not_allowed',
      allow: 'POST',
    })
    expect(matchRoute('POST', '/shutdown', true)).toEqual({ kind: 'route', route: 'shutdown' })
  })
})

describe('sizeGate', () => {
  it('a declared length above the limit → 413', () => {
    expect(sizeGate({ 'content-length': '1025' }, 1024)?.status).toBe(413)
    expect(sizeGate({ 'content-length': '1024' }, 1024)).toBeNull()
  })
})

describe('runGates: the order', () => {
  it('a good request routes', () => {
    expect(runGates(request('POST', '/v1/responses', good()), config)).toEqual({
      ok: true,
      route: 'responses',
    })
  })

  it('Host before Origin before Content-Type before token before route before size', () => {
    const status = (headers: IncomingHttpHeaders, url = '/v1/responses', method = 'POST') => {
      const result = runGates(request(method, url, headers), config)
      return result.ok ? 200 : result.refusal.status
    }
    const noToken = { 'x-proxy-token': undefined }
    expect(
      status(good({ host: 'evil:1', origin: 'x', 'content-type': 'text/plain', ...noToken })),
    ).toBe(403)
    expect(status(good({ origin: 'x', 'content-type': 'text/plain', ...noToken }))).toBe(403)
    expect(status(good({ 'content-type': 'text/plain', ...noToken }))).toBe(415)
    expect(status(good(noToken), '/nope')).toBe(401)
    expect(status(good(noToken), '/v1/responses', 'GET')).toBe(401)
    expect(status(good({ 'content-length': '99999' }), '/nope')).toBe(404)
    expect(status(good(), '/v1/responses', 'PUT')).toBe(405)
    expect(status(good({ 'content-length': '99999' }))).toBe(413)
  })

  it('GET /healthz needs no token but still passes Host and Origin', () => {
    const health = (headers: IncomingHttpHeaders) =>
      runGates(request('GET', '/healthz', headers), config)
    expect(health({ host: HOSTS[0] })).toEqual({ ok: true, route: 'healthz' })
    expect(health({ host: 'evil:1' }).ok).toBe(false)
    expect(health({ host: HOSTS[0], origin: 'https://evil.example' }).ok).toBe(false)
  })
})
