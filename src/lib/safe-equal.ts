/**
 * Constant-time comparison of secrets. Both sides are hashed with SHA-256 first and the two
 * 32-byte digests are compared with `crypto.timingSafeEqual`, so inputs of different lengths
 * neither throw nor reveal their length through timing (SECURITY.md TS-01, the proxy token gate of
 * DESIGN.md). Strings are hashed as UTF-8; anything with a `reveal()` method (a `Secret`) is
 * unwrapped first, which keeps this module free of an import cycle with `secret.ts`.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** Anything that can hand over its secret string on request, such as a `Secret`. */
export interface Revealable {
  /** Returns the wrapped secret value. */
  reveal(): string
}

/** What `safeEqual` and `sha256Hex` accept. */
export type SecretInput = string | Uint8Array | Revealable

function toBytes(value: SecretInput): string | Uint8Array {
  return typeof value === 'string' || value instanceof Uint8Array ? value : value.reveal()
}

function sha256(value: SecretInput): Buffer {
  return createHash('sha256').update(toBytes(value)).digest()
}

/**
 * Compares two secrets in constant time (with respect to their content and length).
 *
 * @example
 * safeEqual(presentedToken, Secret.from(expectedToken)) // true or false, never throws on length
 */
export function safeEqual(a: SecretInput, b: SecretInput): boolean {
  return timingSafeEqual(sha256(a), sha256(b))
}

/**
 * The lower-case hex SHA-256 of a value (UTF-8 for strings), e.g. for `--ws-token-sha256`.
 *
 * @example
 * sha256Hex('abc') // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function sha256Hex(value: SecretInput): string {
  return sha256(value).toString('hex')
}
