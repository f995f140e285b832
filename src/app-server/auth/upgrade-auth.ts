/**
 * Authentication of a WebSocket upgrade, before any JSON-RPC frame is read (SECURITY.md C3.1,
 * C3.12). The credential is taken only from one `Authorization: Bearer <token>` header; the query
 * string and `Sec-WebSocket-Protocol` are never looked at, since URLs end up in logs and history.
 * Refusals carry the plain reasons of the official CLI (PROTOCOL.md §10).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { CapabilityVerifier } from './capability-token.js'
import type { WsAuthReason } from './reasons.js'
import type { JwtVerifier } from './signed-bearer.js'

/**
 * How upgrades are authenticated: not at all (loopback only, decided by the caller), with a
 * capability token, or with a signed bearer token (JWT).
 *
 * @example
 * const mode: WsAuthMode = { kind: 'capability', verifier: await loadCapabilityTokenFile(file) }
 * @see PROTOCOL.md §10
 */
export type WsAuthMode =
  | { readonly kind: 'none' }
  | { readonly kind: 'capability'; readonly verifier: CapabilityVerifier }
  | { readonly kind: 'jwt'; readonly verifier: JwtVerifier }

/** The outcome of {@link authenticateUpgrade}: go on, or answer 401 with `reason` as the body. */
export type UpgradeAuthResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401; readonly reason: WsAuthReason }

/** Scheme case-insensitive (RFC 9110 §11.1); one token of visible ASCII, as the proxy accepts. */
const BEARER = /^bearer +([\x21-\x7e]+)$/i

function refuse(reason: WsAuthReason): UpgradeAuthResult {
  return { ok: false, status: 401, reason }
}

function authorizationCount(rawHeaders: readonly string[]): number {
  let count = 0
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (rawHeaders[index]?.toLowerCase() === 'authorization') count += 1
  }
  return count
}

/** The bearer token, or the reason there is none usable. */
function bearerToken(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[] | undefined,
): { token: string } | { reason: WsAuthReason } {
  // Node keeps only the first of repeated Authorization headers; the raw list shows them all.
  if (rawHeaders !== undefined && authorizationCount(rawHeaders) > 1) {
    return { reason: 'invalid authorization header' }
  }
  const value: unknown = headers.authorization
  if (value === undefined || value === '') return { reason: 'missing websocket bearer token' }
  if (typeof value !== 'string') return { reason: 'invalid authorization header' }
  const token = BEARER.exec(value)?.[1]
  return token === undefined ? { reason: 'invalid authorization header' } : { token }
}

/**
 * Decides whether an upgrade request may proceed. Pass the request's `rawHeaders` too, so that a
 * repeated `Authorization` header (which Node's `headers` silently reduces to the first) is refused.
 *
 * @example
 * const result = await authenticateUpgrade(req.headers, mode, req.rawHeaders)
 * if (!result.ok) return reject(socket, result.status, result.reason)
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export async function authenticateUpgrade(
  headers: IncomingHttpHeaders,
  mode: WsAuthMode,
  rawHeaders?: readonly string[],
): Promise<UpgradeAuthResult> {
  if (mode.kind === 'none') return { ok: true }
  const presented = bearerToken(headers, rawHeaders)
  if ('reason' in presented) return refuse(presented.reason)
  if (mode.kind === 'capability') {
    return mode.verifier.verify(presented.token)
      ? { ok: true }
      : refuse('invalid websocket bearer token')
  }
  const result = await mode.verifier.verify(presented.token)
  return result.ok ? { ok: true } : refuse(result.reason)
}
