/**
 * Reading what an issuer error answer means, without ever copying the body into a message. The two readers
 * follow PROTOCOL.md: the refresh classification reads the code from `error.code`, then `error` as a string, then
 * `code` (§4); a human-readable detail comes from `error_description`, then `error.message`, then `error` (a
 * string) or `error.code` (§2) — and where the Codex CLI would fall back to the raw body, the broker says only
 * `HTTP <status>`. A detail is cut to one short line of printable characters. `grantRefused` turns a refused
 * grant into the broker's error: a 5xx is `ERR_UPSTREAM_UNAVAILABLE`, anything else `ERR_UPSTREAM_UNAUTHORIZED`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
import { BrokerError } from '../lib/index.js'

/** The longest issuer detail kept in a message. */
export const MAX_DETAIL_LENGTH = 200

/**
 * The error code of an issuer answer: `error.code`, then `error` (a string), then `code`; undefined if none.
 * @example
 * issuerErrorCode({ error: { code: 'refresh_token_reused' } }) // 'refresh_token_reused'
 * issuerErrorCode({ error: 'invalid_grant' }) // 'invalid_grant'
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function issuerErrorCode(json: unknown): string | undefined {
  const error = member(json, 'error')
  const nested = member(error, 'code')
  if (typeof nested === 'string' && nested !== '') return clean(nested)
  if (typeof error === 'string' && error !== '') return clean(error)
  const code = member(json, 'code')
  return typeof code === 'string' && code !== '' ? clean(code) : undefined
}

/**
 * A short human detail of an issuer answer: `error_description`, then `error.message`, then `error` (a string)
 * or `error.code`, else `HTTP <status>` (never the raw body).
 * @example
 * issuerErrorDetail({ error: 'invalid_grant', error_description: 'Code expired' }, 400) // 'Code expired'
 * issuerErrorDetail(undefined, 502) // 'HTTP 502'
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function issuerErrorDetail(json: unknown, status: number): string {
  const error = member(json, 'error')
  const candidates: unknown[] = [
    member(json, 'error_description'),
    member(error, 'message'),
    typeof error === 'string' ? error : member(error, 'code'),
  ]
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && candidate.trim() !== '') return clean(candidate)
  }
  return `HTTP ${status}`
}

/**
 * The error for a non-2xx answer to a grant: 5xx → `ERR_UPSTREAM_UNAVAILABLE`, else `ERR_UPSTREAM_UNAUTHORIZED`.
 * @example
 * if (reply.status !== 200) throw grantRefused('token exchange', reply.status, reply.json)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function grantRefused(
  what: string,
  status: number,
  json: unknown,
  hint = 'Start the sign-in again with codex-broker login.',
): BrokerError {
  const detail = issuerErrorDetail(json, status)
  if (status >= 500) {
    return new BrokerError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `The issuer failed the ${what} (HTTP ${status}: ${detail}).`,
      { hint: 'Try again in a moment.' },
    )
  }
  return new BrokerError(
    'ERR_UPSTREAM_UNAUTHORIZED',
    `The issuer refused the ${what} (HTTP ${status}: ${detail}).`,
    { hint },
  )
}

function member(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  return Object.hasOwn(value, name) ? (Reflect.get(value, name) as unknown) : undefined
}

function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim()
  return line.length > MAX_DETAIL_LENGTH ? `${line.slice(0, MAX_DETAIL_LENGTH - 1)}…` : line
}
