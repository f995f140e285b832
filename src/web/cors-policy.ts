/**
 * CORS for the configured `allowedOrigins` only (SECURITY.md C4.9, BR-26…BR-33): an exact string match of the
 * `Origin` header (no reflection, no patterns, never `*`), `Access-Control-Allow-Credentials` only together with
 * an echoed origin, and `Vary: Origin, Sec-Fetch-Site` on every answer so no cache serves one origin's answer to
 * another. A preflight passes only for an allowlisted origin asking for GET or POST with no headers beyond
 * `Content-Type` and the static header.
 * @see https://fetch.spec.whatwg.org/#http-cors-protocol
 */
import { STATIC_HEADER_NAME } from './cross-origin-guard.js'
import type { WebAnswer, WebRequest } from './web-answer.js'

const PREFLIGHT_MAX_AGE_SECONDS = 600
const ALLOWED_METHODS = new Set(['GET', 'POST'])
const ALLOWED_HEADERS = new Set(['content-type', STATIC_HEADER_NAME])

/**
 * The CORS headers of an answer to `request` (always `Vary`).
 * @example
 * Object.assign(answer.headers, corsHeaders(request, allowed))
 */
export function corsHeaders(
  request: WebRequest,
  allowedOrigins: ReadonlySet<string>,
): Record<string, string> {
  const origin = request.headers.get('origin')
  const headers: Record<string, string> = { vary: 'Origin, Sec-Fetch-Site' }
  if (origin !== null && allowedOrigins.has(origin)) {
    headers['access-control-allow-origin'] = origin
    headers['access-control-allow-credentials'] = 'true'
  }
  return headers
}

/**
 * The answer to an `OPTIONS` preflight: 204 with the grant for an allowlisted origin and an allowed request,
 * else 403 without any `Access-Control-Allow-*` header.
 * @example
 * if (request.method === 'OPTIONS') return preflightAnswer(request, allowed)
 */
export function preflightAnswer(
  request: WebRequest,
  allowedOrigins: ReadonlySet<string>,
): WebAnswer {
  const origin = request.headers.get('origin')
  const method = request.headers.get('access-control-request-method')
  const asked = (request.headers.get('access-control-request-headers') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '')
  const granted =
    origin !== null &&
    allowedOrigins.has(origin) &&
    method !== null &&
    ALLOWED_METHODS.has(method) &&
    asked.every((name) => ALLOWED_HEADERS.has(name))
  if (!granted) {
    return {
      status: 403,
      headers: { vary: 'Origin, Sec-Fetch-Site', 'cache-control': 'no-store' },
      body: null,
    }
  }
  return {
    status: 204,
    body: null,
    headers: {
      vary: 'Origin, Sec-Fetch-Site',
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': `Content-Type, ${STATIC_HEADER_NAME}`,
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    },
  }
}
