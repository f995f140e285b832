/**
 * The one closed error taxonomy of codex-broker (DESIGN.md "Errors"). Every failure the broker
 * reports is a `BrokerError` with a stable `code` from a string-literal union that a `switch`
 * narrows, a `cause` that is always present as an own property (possibly `undefined`), `name`
 * equal to the constructing class, and an optional `hint` telling the user what to do. The message
 * and hint are passed through `redactText` in the constructor as defence in depth, and
 * `toJSON()` exposes only `name`, `code`, `message` and `hint` (never the cause). HTTP surfaces
 * turn any thrown value into a body with {@link toPublicError} and a status with
 * {@link httpStatusFor}, in one place, so upstream bodies and raw messages never reach a client.
 */
import { redactText } from './redact-text.js'

/** Every error code, in one list (the source of {@link BrokerErrorCode}). */
export const BROKER_ERROR_CODES = [
  'ERR_REFRESH_REUSED',
  'ERR_REFRESH_EXPIRED',
  'ERR_REFRESH_REVOKED',
  'ERR_REFRESH_FAILED',
  'ERR_REFRESH_TRANSIENT',
  'ERR_NEEDS_LOGIN',
  'ERR_POOL_EXHAUSTED',
  'ERR_LOCK_TIMEOUT',
  'ERR_UPSTREAM_CHALLENGE',
  'ERR_UPSTREAM_RATE_LIMITED',
  'ERR_UPSTREAM_UNAUTHORIZED',
  'ERR_UPSTREAM_BAD_RESPONSE',
  'ERR_UPSTREAM_UNAVAILABLE',
  'ERR_STREAM_CUT',
  'ERR_MODEL_UNSUPPORTED',
  'ERR_UNSAFE_FILE',
  'ERR_UNSAFE_HOME',
  'ERR_CORRUPT_STORE',
  'ERR_WRONG_KEY',
  'ERR_DEVICE_AUTH_NOT_ENABLED',
  'ERR_DEVICE_CODE_EXPIRED',
  'ERR_LOGIN_CANCELLED',
  'ERR_LOGIN_TIMEOUT',
  'ERR_STATE_MISMATCH',
  'ERR_PORT_IN_USE',
  'ERR_INVALID_CONFIG',
  'ERR_INVALID_REQUEST',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN',
  'ERR_NOT_FOUND',
  'ERR_METHOD_NOT_ALLOWED',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_RATE_LIMITED',
  'ERR_INTERNAL',
] as const

/** A stable, machine-readable error code. */
export type BrokerErrorCode = (typeof BROKER_ERROR_CODES)[number]

/**
 * The HTTP status for each code. 401/403 are kept for the caller's own credential to the broker
 * (and for "sign in again" states); failures of the upstream are 5xx; local faults are 500.
 */
const HTTP_STATUS = {
  ERR_REFRESH_REUSED: 401,
  ERR_REFRESH_EXPIRED: 401,
  ERR_REFRESH_REVOKED: 401,
  ERR_REFRESH_FAILED: 502,
  ERR_REFRESH_TRANSIENT: 503,
  ERR_NEEDS_LOGIN: 401,
  ERR_POOL_EXHAUSTED: 503,
  ERR_LOCK_TIMEOUT: 503,
  ERR_UPSTREAM_CHALLENGE: 502,
  ERR_UPSTREAM_RATE_LIMITED: 429,
  ERR_UPSTREAM_UNAUTHORIZED: 502,
  ERR_UPSTREAM_BAD_RESPONSE: 502,
  ERR_UPSTREAM_UNAVAILABLE: 503,
  ERR_STREAM_CUT: 502,
  ERR_MODEL_UNSUPPORTED: 400,
  ERR_UNSAFE_FILE: 500,
  ERR_UNSAFE_HOME: 500,
  ERR_CORRUPT_STORE: 500,
  ERR_WRONG_KEY: 500,
  ERR_DEVICE_AUTH_NOT_ENABLED: 501,
  ERR_DEVICE_CODE_EXPIRED: 410,
  ERR_LOGIN_CANCELLED: 409,
  ERR_LOGIN_TIMEOUT: 408,
  ERR_STATE_MISMATCH: 400,
  ERR_PORT_IN_USE: 500,
  ERR_INVALID_CONFIG: 500,
  ERR_INVALID_REQUEST: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_INTERNAL: 500,
} as const satisfies Record<BrokerErrorCode, number>

/** The message {@link toPublicError} uses for anything that is not a `BrokerError`. */
export const GENERIC_INTERNAL_MESSAGE = 'Internal error'

const BRAND = Symbol.for('codex-broker.BrokerError')
const CODE_SET: ReadonlySet<string> = new Set(BROKER_ERROR_CODES)

/** Options for the `BrokerError` constructor. */
export interface BrokerErrorOptions {
  /** The underlying error; stored as a non-enumerable own `cause` (undefined when absent). */
  readonly cause?: unknown
  /** What the user should do next, e.g. "Run `codex-broker login`." */
  readonly hint?: string
}

/**
 * The broker's error class.
 *
 * @example
 * throw new BrokerError('ERR_NEEDS_LOGIN', 'Account work@example.com needs to sign in again', {
 *   cause: error,
 *   hint: 'Run `codex-broker login`.',
 * })
 */
export class BrokerError extends Error {
  /** The stable code. */
  readonly code: BrokerErrorCode
  /** What the user should do, when known. */
  readonly hint: string | undefined

  constructor(code: BrokerErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(redactText(message), { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.hint = options.hint === undefined ? undefined : redactText(options.hint)
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** The HTTP status of this error's code (see {@link httpStatusFor}). */
  get httpStatus(): number {
    return httpStatusFor(this.code)
  }

  /** A safe JSON form: name, code, message and hint only — never the cause. */
  toJSON(): { name: string; code: BrokerErrorCode; message: string; hint?: string } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    }
  }
}

/**
 * The HTTP status for a code.
 *
 * @example
 * httpStatusFor('ERR_POOL_EXHAUSTED') // 503
 */
export function httpStatusFor(code: BrokerErrorCode): number {
  return HTTP_STATUS[code]
}

/**
 * Returns true when `value` is a known error code.
 *
 * @example
 * isBrokerErrorCode('ERR_NEEDS_LOGIN') // true
 */
export function isBrokerErrorCode(value: unknown): value is BrokerErrorCode {
  return typeof value === 'string' && CODE_SET.has(value)
}

/**
 * Type guard for `BrokerError`, optionally of one code. Also recognises instances from another
 * copy of this module (a bundled build next to the sources) through a registered symbol brand.
 *
 * @example
 * if (isBrokerError(error, 'ERR_REFRESH_REUSED')) markNeedsLogin(account)
 */
export function isBrokerError<C extends BrokerErrorCode>(
  value: unknown,
  code?: C,
): value is BrokerError & { readonly code: C } {
  if (typeof value !== 'object' || value === null) return false
  const branded = value instanceof BrokerError || Reflect.get(value, BRAND) === true
  if (!branded) return false
  const actual: unknown = Reflect.get(value, 'code')
  return code === undefined ? isBrokerErrorCode(actual) : actual === code
}

/** The body an HTTP surface may show a client. */
export interface PublicError {
  /** The stable code. */
  readonly code: BrokerErrorCode
  /** A human message without secrets or upstream bodies. */
  readonly message: string
  /** What the user should do, when known. */
  readonly hint?: string
}

/**
 * Converts anything thrown into a client-safe body: a `BrokerError` keeps its code, (already
 * redacted) message and hint; anything else becomes `ERR_INTERNAL` with a generic message — the
 * raw message is never exposed.
 *
 * @example
 * const body = toPublicError(error)
 * return Response.json({ error: body }, { status: httpStatusFor(body.code) })
 */
export function toPublicError(error: unknown): PublicError {
  if (!isBrokerError(error)) return { code: 'ERR_INTERNAL', message: GENERIC_INTERNAL_MESSAGE }
  const message = redactText(error.message)
  return error.hint === undefined
    ? { code: error.code, message }
    : { code: error.code, message, hint: redactText(error.hint) }
}
