/**
 * PKCE with the S256 method only (PROTOCOL.md §2): the shapes of a verifier and a challenge, the transform, a
 * constant-time comparison, and a fresh pair for the device flow, where the server hands the pair out itself.
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { randomBase64Url } from '../random.js'

// RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/
// base64url of a SHA-256 digest, unpadded: always 43 characters.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

/**
 * Whether `value` is a well-formed code verifier.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export function isCodeVerifier(value: string): boolean {
  return VERIFIER.test(value)
}

/**
 * Whether `value` can be an S256 code challenge.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export function isS256Challenge(value: string): boolean {
  return S256_CHALLENGE.test(value)
}

/**
 * `base64url(SHA-256(verifier))`.
 * @example
 * s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk') // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
 */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

/**
 * Whether `verifier` is well formed and transforms to `challenge` (compared in constant time).
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.6
 */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!isCodeVerifier(verifier)) return false
  const actual = Buffer.from(s256Challenge(verifier))
  const expected = Buffer.from(challenge)
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** A fresh verifier (64 random bytes, 86 characters, like the Codex CLI's) and its challenge. */
export function createPkcePair(): { codeVerifier: string; codeChallenge: string } {
  const codeVerifier = randomBase64Url(64)
  return { codeVerifier, codeChallenge: s256Challenge(codeVerifier) }
}
