/**
 * Checks the shape of every answer the broker sends, so the rest of the client works with typed values and an
 * answer of the wrong shape becomes a `CodexClientError('invalid_response')` instead of `undefined` somewhere
 * deep in the UI. Unknown extra fields are ignored and never copied into the client's state.
 */
import { CodexClientError } from './errors.js'
import type { CodexAccount, CodexAuthErrorInfo } from './types.js'

/** The answer of `POST /session`. */
export interface SessionAnswer {
  readonly loggedIn: boolean
  readonly account: CodexAccount | null
}

/** The answer of `POST /login/start`: a device code, or the reason there is none. */
export type LoginStartAnswer =
  | {
      readonly kind: 'started'
      /** Not yet validated: see `validateLoginUrl`. */
      readonly loginUrl: string
      readonly userCode: string
      readonly expiresAt: number
    }
  | { readonly kind: 'unavailable'; readonly error: CodexAuthErrorInfo }

/** The answer of `GET /status`. */
export interface StatusAnswer {
  readonly state: 'logged_out' | 'pending' | 'logged_in'
  readonly account: CodexAccount | null
  readonly error: CodexAuthErrorInfo | null
}

/** One event of the `POST /run/stream` NDJSON stream. */
export type RunEvent =
  | { readonly type: 'text'; readonly delta: string }
  | { readonly type: 'done'; readonly usage: Readonly<Record<string, unknown>> | null }
  | { readonly type: 'error'; readonly code: string; readonly message: string }

/**
 * Whether `value` is a plain JSON object.
 * @example
 * isRecord(JSON.parse('{"a":1}')) // true
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function invalid(what: string): CodexClientError {
  return new CodexClientError('invalid_response', `The broker sent an unexpected ${what}.`)
}

function parseAccount(value: unknown): CodexAccount | null {
  if (!isRecord(value)) return null
  return {
    email: typeof value.email === 'string' ? value.email : null,
    plan: typeof value.plan === 'string' ? value.plan : null,
  }
}

function parseErrorInfo(value: unknown): CodexAuthErrorInfo | null {
  if (!isRecord(value) || typeof value.code !== 'string') return null
  return {
    code: value.code,
    message: typeof value.message === 'string' ? value.message : value.code,
  }
}

/**
 * Reads the answer of `POST /session`.
 * @example
 * parseSessionAnswer({ loggedIn: true, account: { email: 'a@example.com', plan: 'plus' } })
 */
export function parseSessionAnswer(body: unknown): SessionAnswer {
  if (!isRecord(body) || typeof body.loggedIn !== 'boolean') throw invalid('session answer')
  return { loggedIn: body.loggedIn, account: body.loggedIn ? parseAccount(body.account) : null }
}

/**
 * Reads the answer of `POST /login/start`.
 * @example
 * parseLoginStartAnswer({ loginUrl: 'https://auth.openai.com/codex/device', userCode: 'ABCD-EFGH', expiresAt: 1 })
 */
export function parseLoginStartAnswer(body: unknown): LoginStartAnswer {
  if (!isRecord(body)) throw invalid('sign-in answer')
  if (typeof body.errorCode === 'string') {
    const message = typeof body.message === 'string' ? body.message : 'Sign-in is not available.'
    return { kind: 'unavailable', error: { code: body.errorCode, message } }
  }
  const { loginUrl, userCode, expiresAt } = body
  if (
    typeof loginUrl !== 'string' ||
    typeof userCode !== 'string' ||
    userCode === '' ||
    typeof expiresAt !== 'number' ||
    !Number.isFinite(expiresAt)
  )
    throw invalid('sign-in answer')
  return { kind: 'started', loginUrl, userCode, expiresAt }
}

/**
 * Reads the answer of `GET /status`.
 * @example
 * parseStatusAnswer({ state: 'logged_out', error: { code: 'expired_token', message: 'The code expired.' } })
 */
export function parseStatusAnswer(body: unknown): StatusAnswer {
  if (!isRecord(body)) throw invalid('status answer')
  const { state } = body
  if (state !== 'logged_out' && state !== 'pending' && state !== 'logged_in')
    throw invalid('status answer')
  return { state, account: parseAccount(body.account), error: parseErrorInfo(body.error) }
}

/**
 * Reads a non-2xx answer `{"error":{"code","message"}}`; anything else becomes `http_<status>`.
 * @example
 * parseErrorAnswer({ error: { code: 'rate_limited', message: 'Slow down.' } }, 429).code // 'rate_limited'
 */
export function parseErrorAnswer(body: unknown, status: number): CodexAuthErrorInfo {
  const info = isRecord(body) ? parseErrorInfo(body.error) : null
  return info ?? { code: `http_${status}`, message: `The broker answered with HTTP ${status}.` }
}

/**
 * Reads one line of the run stream (already JSON-parsed); `null` for an event type this client does not know,
 * which the caller skips.
 * @example
 * parseRunEvent({ type: 'text', delta: 'Hi' }) // { type: 'text', delta: 'Hi' }
 */
export function parseRunEvent(value: unknown): RunEvent | null {
  if (!isRecord(value) || typeof value.type !== 'string') throw invalid('stream event')
  switch (value.type) {
    case 'text':
      if (typeof value.delta !== 'string') throw invalid('stream event')
      return { type: 'text', delta: value.delta }
    case 'done':
      return { type: 'done', usage: isRecord(value.usage) ? value.usage : null }
    case 'error': {
      const info = parseErrorInfo(value)
      if (info === null) throw invalid('stream event')
      return { type: 'error', code: info.code, message: info.message }
    }
    default:
      return null
  }
}
