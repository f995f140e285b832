/**
 * The one place the proxy turns a refusal or a failure into an HTTP answer: a JSON body
 * `{"error":{"code","message"}}` in OpenAI's shape with `cache-control: no-store`, never echoing a request
 * header or body and never carrying upstream text (SECURITY.md C2.8). Upstream failures keep their broker code,
 * except a usage limit, which answers 429 `rate_limited` with the reset time in the message.
 */
import type { ServerResponse } from 'node:http'
import { PoolExhaustedError } from '../accounts/index.js'
import { httpStatusFor, isBrokerError, toPublicError } from '../lib/index.js'
import { UpstreamError } from '../upstream/index.js'

/** The codes of the proxy's own refusals. */
export type ProxyErrorCode =
  | 'bad_request'
  | 'forbidden_host'
  | 'forbidden_origin'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_request'
  | 'rate_limited'
  | 'overloaded'

/** An answer the proxy gives instead of serving the request. */
export interface ProxyRefusal {
  readonly status: number
  readonly code: string
  readonly message: string
  /** Extra response headers (`allow`, `www-authenticate`). */
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * Builds a refusal.
 * @example
 * refusal(404, 'not_found', 'No such route.')
 */
export function refusal(
  status: number,
  code: ProxyErrorCode,
  message: string,
  headers?: Readonly<Record<string, string>>,
): ProxyRefusal {
  return headers === undefined ? { status, code, message } : { status, code, message, headers }
}

/**
 * Writes a refusal as the JSON error body, unless the headers already went out (then the response just ends).
 * @example
 * sendRefusal(res, refusal(401, 'unauthorized', 'A proxy token is required.'))
 */
export function sendRefusal(res: ServerResponse, answer: ProxyRefusal, close = false): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } })
  res.statusCode = answer.status
  res.setHeader('content-type', 'application/json')
  res.setHeader('cache-control', 'no-store')
  res.setHeader('content-length', Buffer.byteLength(body))
  if (close) res.setHeader('connection', 'close')
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value)
  res.end(body)
}

/**
 * The 503 for a request above the concurrency cap: answered at once, with a hint to retry.
 * @example
 * sendRefusal(res, overloaded(4096), true)
 */
export function overloaded(limit: number): ProxyRefusal {
  return refusal(
    503,
    'overloaded',
    `The proxy is already serving ${String(limit)} requests; retry shortly.`,
    { 'retry-after': '1' },
  )
}

/**
 * The refusal for an error thrown while serving: an upstream usage limit becomes 429 `rate_limited` saying when
 * it resets ("… resets at 14:05 UTC"); any other `BrokerError` keeps its code and status; anything else is a
 * generic 500. A pool with nothing usable (`ERR_POOL_EXHAUSTED`) answers 429 when every account is rate-limited,
 * else 503, with `Retry-After` when a time is known (`now` is the clock its `retryAt` is counted from).
 * @example
 * sendRefusal(res, refusalForError(error))
 */
export function refusalForError(error: unknown, now: number = Date.now()): ProxyRefusal {
  if (error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_RATE_LIMITED') {
    const resetsAt = error.details.resetsAt
    const when = resetsAt === null ? 'later' : `at ${utcClock(resetsAt)}`
    return refusal(429, 'rate_limited', `The usage limit has been reached; it resets ${when}.`)
  }
  if (error instanceof PoolExhaustedError) {
    // The code's fixed status (503) would hide a rate limit, and a client needs to know when to come back.
    const body = toPublicError(error)
    const seconds = error.retryAfterSeconds(now)
    const base = { status: error.httpStatus, code: body.code, message: body.message }
    return seconds === null ? base : { ...base, headers: { 'retry-after': String(seconds) } }
  }
  const body = toPublicError(error)
  const status = isBrokerError(error) ? httpStatusFor(body.code) : 500
  return { status, code: body.code, message: body.message }
}

/** `14:05 UTC`, or with the date when the reset is not today (UTC). */
function utcClock(unixSeconds: number): string {
  const at = new Date(unixSeconds * 1000)
  const time = at.toISOString().slice(11, 16)
  const today = new Date().toISOString().slice(0, 10)
  const day = at.toISOString().slice(0, 10)
  return day === today ? `${time} UTC` : `${day} ${time} UTC`
}
