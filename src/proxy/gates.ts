/**
 * The gates every request passes before routing, in this order (DESIGN.md "The proxy", SECURITY.md C2): the Host
 * allowlist (DNS rebinding), no `Origin` or `Sec-Fetch-*` (browsers), `Content-Type: application/json` for a body
 * (simple cross-site POSTs), the capability token, the exact method and path, and the declared body size. Each
 * gate is a pure function of the request line and headers, so it is tested without a server; the first refusal
 * wins and an unauthenticated caller learns nothing about routes. `GET /healthz` is the one route served without
 * the token (content-free, for liveness probes); it still passes the Host and Origin gates.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Secret } from '../lib/index.js'
import { refusal, type ProxyRefusal } from './proxy-error.js'
import { hasProxyToken } from './proxy-token.js'
import { matchRoute, type ProxyRoute } from './routes.js'

/** The parts of a request the gates look at. */
export interface GateRequest {
  readonly method: string
  /** The request target as sent (`req.url`). */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** `req.rawHeaders`: names and values alternating, duplicates kept. */
  readonly rawHeaders: readonly string[]
}

/** What the gates need to know about the listener. */
export interface GateConfig {
  /** The exact Host values accepted, e.g. `127.0.0.1:8080`. */
  readonly allowedHosts: readonly string[]
  readonly token: Secret
  readonly maxBodyBytes: number
  readonly shutdownEnabled: boolean
}

/** The result of all gates: a refusal, or the route to serve. */
export type GateResult = { ok: false; refusal: ProxyRefusal } | { ok: true; route: ProxyRoute }

/**
 * Gate 1: exactly one Host, byte for byte one of `allowedHosts` (on loopback just the bound address with its port,
 * e.g. `127.0.0.1:8080`), and an origin-form target. Missing or duplicate Host → 400, absolute-form → 400, any
 * other Host → 403 with a message naming the address to use (ours, never the value sent).
 * @example
 * hostGate({ method: 'GET', url: '/healthz', headers: {}, rawHeaders: ['Host', '127.0.0.1:8080'] }, ['127.0.0.1:8080']) // null
 */
export function hostGate(
  request: GateRequest,
  allowedHosts: readonly string[],
): ProxyRefusal | null {
  const hosts: string[] = []
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    if (request.rawHeaders[index]?.toLowerCase() === 'host') {
      hosts.push(request.rawHeaders[index + 1] ?? '')
    }
  }
  if (hosts.length === 0) return refusal(400, 'bad_request', 'A Host header is required.')
  if (hosts.length > 1) return refusal(400, 'bad_request', 'Exactly one Host header is allowed.')
  if (!request.url.startsWith('/')) {
    return refusal(400, 'bad_request', 'Only origin-form request targets are accepted.')
  }
  const host = hosts[0] ?? ''
  if (!allowedHosts.includes(host)) {
    const use = allowedHosts[0] === undefined ? '' : ` Call http://${allowedHosts[0]}/ instead.`
    return refusal(403, 'forbidden_host', `This Host is not allowed.${use}`)
  }
  return null
}

/**
 * Gate 2: this is not a browser API, so a request that shows a browser made it → 403: any `Origin`, or any
 * `Sec-Fetch-*` header but a lone `Sec-Fetch-Mode`. Browsers send `Sec-Fetch-Site` and `Sec-Fetch-Dest` with every
 * request to a potentially trustworthy URL such as `http://127.0.0.1` (and `Origin` with every cross-origin
 * POST), so they are all refused; Node's own `fetch` (undici, and with it the OpenAI SDK) adds exactly
 * `Sec-Fetch-Mode: cors` and nothing else, which is a program, not a page, and passes (SECURITY.md C2.2, PX-02).
 * @example
 * originGate({ origin: 'https://evil.example' }) // 403 forbidden_origin
 * originGate({ 'sec-fetch-mode': 'cors' }) // null: Node's fetch
 */
export function originGate(headers: IncomingHttpHeaders): ProxyRefusal | null {
  const browser = Object.keys(headers).some(
    (name) => name === 'origin' || (name.startsWith('sec-fetch-') && name !== 'sec-fetch-mode'),
  )
  return browser ? refusal(403, 'forbidden_origin', 'Browser requests are not allowed.') : null
}

const JSON_TYPE = /^application\/json\s*(;.*)?$/i

/**
 * Gate 3: a request with a body (a non-zero `Content-Length` or any `Transfer-Encoding`) must be
 * `application/json` (parameters such as `; charset=utf-8` allowed) → else 415.
 * @example
 * contentTypeGate({ 'content-length': '2', 'content-type': 'text/plain' }) // 415
 */
export function contentTypeGate(headers: IncomingHttpHeaders): ProxyRefusal | null {
  const length = headers['content-length']
  const hasBody =
    headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  if (!hasBody) return null
  const type = headers['content-type']
  if (type !== undefined && JSON_TYPE.test(type)) return null
  return refusal(415, 'unsupported_media_type', 'The body must be application/json.')
}

/**
 * Gate 4: the capability token, compared in constant time → else 401 with `www-authenticate: Bearer`.
 * @example
 * tokenGate({ 'x-proxy-token': token.reveal() }, token) // null
 */
export function tokenGate(headers: IncomingHttpHeaders, token: Secret): ProxyRefusal | null {
  if (hasProxyToken(headers, token)) return null
  return refusal(401, 'unauthorized', 'A valid proxy token is required.', {
    'www-authenticate': 'Bearer',
  })
}

/**
 * Gate 6: a declared `Content-Length` above the limit → 413 before any byte is read (a chunked body is counted
 * while it is read).
 * @example
 * sizeGate({ 'content-length': '999999999' }, 1024) // 413
 */
export function sizeGate(headers: IncomingHttpHeaders, maxBodyBytes: number): ProxyRefusal | null {
  const length = Number(headers['content-length'] ?? '0')
  return length > maxBodyBytes ? tooLarge(maxBodyBytes) : null
}

/**
 * The 413 refusal.
 * @example
 * tooLarge(1024).status // 413
 */
export function tooLarge(maxBodyBytes: number): ProxyRefusal {
  return refusal(413, 'payload_too_large', `The body is larger than ${String(maxBodyBytes)} bytes.`)
}

/**
 * The Host values a listener accepts: its own address literal and port, nothing else. `localhost` is
 * refused on purpose (SECURITY.md RB-02: only the OAuth callback, whose registered redirect URI names it, accepts
 * it): the proxy's URL, its server-info file and every example say `127.0.0.1`, a name adds a resolver to trust,
 * and one exact value leaves nothing to normalise.
 * @example
 * listenerHosts('127.0.0.1', 8080) // ['127.0.0.1:8080']
 * listenerHosts('::1', 8080) // ['[::1]:8080']
 */
export function listenerHosts(address: string, port: number): string[] {
  const literal = address.includes(':') ? `[${address}]` : address
  return [`${literal}:${String(port)}`]
}

/**
 * Runs every gate in order; the first refusal wins.
 * @example
 * const result = runGates(req, { allowedHosts: listenerHosts('127.0.0.1', port), token, maxBodyBytes, shutdownEnabled: false })
 * if (!result.ok) return sendRefusal(res, result.refusal)
 */
export function runGates(request: GateRequest, config: GateConfig): GateResult {
  const { headers } = request
  const early =
    hostGate(request, config.allowedHosts) ?? originGate(headers) ?? contentTypeGate(headers)
  if (early !== null) return { ok: false, refusal: early }
  const match = matchRoute(request.method, request.url, config.shutdownEnabled)
  const isHealth = match.kind === 'route' && match.route === 'healthz'
  if (!isHealth) {
    const unauthorized = tokenGate(headers, config.token)
    if (unauthorized !== null) return { ok: false, refusal: unauthorized }
  }
  if (match.kind === 'not_found') {
    return { ok: false, refusal: refusal(404, 'not_found', 'No such route.') }
  }
  if (match.kind === 'method_not_allowed') {
    return {
      ok: false,
      refusal: refusal(405, 'method_not_allowed', 'Method not allowed.', { allow: match.allow }),
    }
  }
  const oversized = sizeGate(headers, config.maxBodyBytes)
  if (oversized !== null) return { ok: false, refusal: oversized }
  return { ok: true, route: match.route }
}
