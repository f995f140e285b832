/**
 * Deep redaction of structured values headed for a log line or a diagnostic dump. Strings go
 * through `redactText`; a property whose name is a secret key (see `secret-keys.ts`) has a
 * string, object or array value replaced by `[REDACTED]` wholesale (numbers, booleans and null are
 * kept, so `input_tokens: 12` survives); `Secret` values become `[REDACTED]`; errors go through
 * the `serializeError` allowlist; binary data is summarised by length; cycles become
 * `[Circular]` and anything deeper than `maxDepth` becomes `[Truncated]`. The input is never
 * mutated: the result is a fresh copy built from own enumerable properties, as `JSON.stringify`
 * would see them (objects with `toJSON` are converted first).
 */
import { Secret } from './secret.js'
import { isSecretKey } from './secret-keys.js'
import { REDACTED, type RedactTextOptions, redactText } from './redact-text.js'
import { isErrorLike, serializeError } from './serialize-error.js'

/** Options for {@link redactValue}. */
export interface RedactValueOptions extends RedactTextOptions {
  /** Nesting depth kept before `[Truncated]` (default 8). */
  readonly maxDepth?: number
}

/** The default depth limit of {@link redactValue}. */
export const DEFAULT_REDACT_DEPTH = 8

interface WalkState {
  readonly options: RedactTextOptions
  readonly maxDepth: number
  readonly ancestors: Set<object>
}

function isKeptUnderSecretKey(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint'
  )
}

function walkEntries(entries: Iterable<[string, unknown]>, depth: number, state: WalkState) {
  const out: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    const safeKey = redactText(key, state.options)
    out[safeKey] =
      isSecretKey(key) && !isKeptUnderSecretKey(value) ? REDACTED : walk(value, depth + 1, state)
  }
  return out
}

function* ownEntries(value: object): Generator<[string, unknown]> {
  for (const key of Object.keys(value)) {
    let item: unknown
    try {
      item = Reflect.get(value, key)
    } catch {
      item = '[Unreadable]'
    }
    yield [key, item]
  }
}

function walkObject(value: object, depth: number, state: WalkState): unknown {
  if (Array.isArray(value)) return value.map((item: unknown) => walk(item, depth + 1, state))
  if (value instanceof Map) {
    const entries = [...value.entries()].map(([k, v]): [string, unknown] => [String(k), v])
    return walkEntries(entries, depth, state)
  }
  if (value instanceof Set) return [...value].map((item: unknown) => walk(item, depth + 1, state))
  const toJSON: unknown = Reflect.get(value, 'toJSON')
  if (typeof toJSON === 'function') {
    return walk(Reflect.apply(toJSON, value, []) as unknown, depth + 1, state)
  }
  return walkEntries(ownEntries(value), depth, state)
}

function walk(value: unknown, depth: number, state: WalkState): unknown {
  if (typeof value === 'string') return redactText(value, state.options)
  if (typeof value !== 'object' || value === null) return value
  if (value instanceof Secret) return REDACTED
  if (isErrorLike(value)) return serializeError(value, state.options)
  if (value instanceof Date) return value
  if (value instanceof URL) return redactText(value.href, state.options)
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return `[Binary: ${value.byteLength} bytes]`
  }
  if (state.ancestors.has(value)) return '[Circular]'
  if (depth >= state.maxDepth) return '[Truncated]'
  state.ancestors.add(value)
  try {
    return walkObject(value, depth, state)
  } catch {
    return '[Unreadable]'
  } finally {
    state.ancestors.delete(value)
  }
}

/**
 * Returns a redacted deep copy of `value` (rules in the module comment).
 *
 * @example
 * redactValue({ user: 'ann', headers: { authorization: 'Bearer abc' }, usage: { input_tokens: 3 } })
 * // { user: 'ann', headers: { authorization: '[REDACTED]' }, usage: { input_tokens: 3 } }
 */
export function redactValue(value: unknown, options: RedactValueOptions = {}): unknown {
  const { maxDepth = DEFAULT_REDACT_DEPTH, ...textOptions } = options
  return walk(value, 0, { options: textOptions, maxDepth, ancestors: new Set() })
}
