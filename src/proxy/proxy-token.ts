/**
 * The proxy's per-launch capability token: 256 random bits, base64url, held as a `Secret`, and the constant-time
 * check of what a caller presents in `X-Proxy-Token` or `Authorization: Bearer` (SECURITY.md C2.3).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { Secret } from '../lib/index.js'

/**
 * A fresh token (32 bytes from the CSPRNG, base64url).
 * @example
 * const token = createProxyToken()
 */
export function createProxyToken(): Secret {
  return Secret.from(randomBytes(32).toString('base64url'))
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/

/**
 * The token a request presents: `x-proxy-token`, else the `Authorization: Bearer` value; null when neither is
 * present exactly once.
 * @example
 * presentedToken({ 'x-proxy-token': 'abc' }) // 'abc'
 */
export function presentedToken(headers: IncomingHttpHeaders): string | null {
  const custom = headers['x-proxy-token']
  if (typeof custom === 'string' && custom !== '') return custom
  const authorization = headers.authorization
  if (typeof authorization !== 'string') return null
  return BEARER.exec(authorization)?.[1] ?? null
}

/** The expected token's bytes, made once per token rather than on every request. */
const expectedBytes = new WeakMap<Secret, Buffer>()

/**
 * Whether the request carries the token, compared with `timingSafeEqual`. Only a presented value of the token's
 * length is compared at all: every token is 43 characters (that is public), so the length says nothing secret,
 * and the comparison itself takes the same time whatever the bytes.
 * @example
 * if (!hasProxyToken(req.headers, token)) return refuse401()
 */
export function hasProxyToken(headers: IncomingHttpHeaders, token: Secret): boolean {
  const presented = presentedToken(headers)
  if (presented === null) return false
  let expected = expectedBytes.get(token)
  if (expected === undefined) {
    expected = Buffer.from(token.reveal(), 'utf8')
    expectedBytes.set(token, expected)
  }
  const bytes = Buffer.from(presented, 'utf8')
  return bytes.length === expected.length && timingSafeEqual(bytes, expected)
}
