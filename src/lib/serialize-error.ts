/**
 * Turns an `Error` into a small, safe plain object for logs and diagnostics. Only an allowlist of
 * fields survives — `name`, `code`, `message`, `hint`, `stack` and (for up to three levels) an
 * `Error` `cause` — with every string passed through `redactText`. Arbitrary enumerable
 * properties that libraries hang on errors (`headers`, `response`, `body`, `config`, `request`)
 * are dropped, because that is where bearer tokens and upstream bodies hide (SECURITY.md §1.6,
 * the MCPJam `request.headers` leak).
 */
import { type RedactTextOptions, redactText } from './redact-text.js'

/** The shape `serializeError` produces. */
export interface SerializedError {
  /** The error's `name` (`BrokerError`, `TypeError`, …). */
  readonly name: string
  /** The error's `code` when it is a string or number (`ERR_NEEDS_LOGIN`, `ENOENT`). */
  readonly code?: string | number
  /** The redacted message. */
  readonly message: string
  /** The redacted user-facing hint of a `BrokerError`, when present. */
  readonly hint?: string
  /** The redacted stack trace, when present. */
  readonly stack?: string
  /** The serialized cause, when it is itself an error (three levels at most). */
  readonly cause?: SerializedError
}

/** How many nested `cause` errors are kept. */
const MAX_CAUSE_DEPTH = 3

/**
 * Returns true for real errors, including ones from another realm (`vm`, workers).
 *
 * @example
 * isErrorLike(new TypeError('x')) // true
 */
export function isErrorLike(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]'
}

function readString(error: Error, key: string): string | undefined {
  try {
    const value: unknown = Reflect.get(error, key)
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

function serializeAt(error: Error, options: RedactTextOptions, depth: number): SerializedError {
  const name = readString(error, 'name') ?? 'Error'
  const message = readString(error, 'message') ?? ''
  const stack = readString(error, 'stack')
  const hint = readString(error, 'hint')
  let code: unknown
  let cause: unknown
  try {
    code = Reflect.get(error, 'code')
    cause = Reflect.get(error, 'cause')
  } catch {
    code = undefined
    cause = undefined
  }
  return {
    name: redactText(name, options),
    ...(typeof code === 'string' ? { code: redactText(code, options) } : {}),
    ...(typeof code === 'number' ? { code } : {}),
    message: redactText(message, options),
    ...(hint === undefined ? {} : { hint: redactText(hint, options) }),
    ...(stack === undefined ? {} : { stack: redactText(stack, options) }),
    ...(isErrorLike(cause) && depth < MAX_CAUSE_DEPTH
      ? { cause: serializeAt(cause, options, depth + 1) }
      : {}),
  }
}

/**
 * Serializes an error through the field allowlist, redacting every string.
 *
 * @example
 * logger.error({ err: serializeError(e) }, 'refresh failed')
 */
export function serializeError(error: Error, options: RedactTextOptions = {}): SerializedError {
  return serializeAt(error, options, 0)
}
