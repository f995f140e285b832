/**
 * `Secret` wraps a sensitive string (a token, an API key, a signing key) so that it cannot leak by
 * accident: every printing path — `String()`, template literals, `+` concatenation,
 * `JSON.stringify`, `console.log`, `util.inspect` (even with `showHidden`), `util.format('%s'|'%o')`
 * — yields `[REDACTED]`. The value sits in a `#private` field, which neither `inspect`,
 * `Object.keys`, spreading nor `structuredClone` can see. `reveal()` is the single, greppable way
 * out, and `equals()` compares in constant time (SECURITY.md §1.6, TS-01).
 */
import { inspect } from 'node:util'
import { type Revealable, type SecretInput, safeEqual } from './safe-equal.js'

const REDACTED_TEXT = '[REDACTED]'

/**
 * A string that refuses to be printed.
 *
 * @example
 * const key = Secret.from(apiKeyFromStdin)
 * console.log(`using ${key}`) // using [REDACTED]
 * fetch(url, { headers: { authorization: `Bearer ${key.reveal()}` } })
 */
export class Secret implements Revealable {
  readonly #value: string

  private constructor(value: string) {
    this.#value = value
    Object.freeze(this)
  }

  /**
   * Wraps a string. Passing a `Secret` returns it unchanged.
   *
   * @throws {TypeError} when `value` is neither a string nor a `Secret`.
   */
  static from(value: string | Secret): Secret {
    if (value instanceof Secret) return value
    if (typeof value !== 'string') throw new TypeError('Secret.from expects a string')
    return new Secret(value)
  }

  /** Returns true when `value` is a `Secret`. */
  static isSecret(value: unknown): value is Secret {
    return value instanceof Secret
  }

  /** Returns the wrapped value. The only way to read it; keep calls next to where it is sent. */
  reveal(): string {
    return this.#value
  }

  /** Constant-time comparison with another secret, a string or bytes (SHA-256 + timingSafeEqual). */
  equals(other: SecretInput): boolean {
    return safeEqual(this.#value, other)
  }

  /** Always `[REDACTED]`. */
  toString(): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]`, so `JSON.stringify` never sees the value. */
  toJSON(): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]`, whatever the hint (`String(s)`, `` `${s}` ``, `s + ''`, `Number(s)`). */
  [Symbol.toPrimitive](): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]` for `util.inspect`, `console.log` and `util.format('%o')`. */
  [inspect.custom](): string {
    return REDACTED_TEXT
  }
}
