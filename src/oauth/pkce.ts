/**
 * Proof Key for Code Exchange and the `state` value of the browser sign-in (PROTOCOL.md §2). The verifier is the
 * base64url form of 64 bytes from the operating system's CSPRNG (86 characters, 512 bits, inside RFC 7636's
 * 43–128 range and alphabet), the challenge is always `S256` — there is no `plain` path to fall back to — and
 * `state` is 32 random bytes, base64url. The verifier is handed around as a `Secret` so it cannot be printed.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
 */
import { createHash, randomBytes } from 'node:crypto'
import { Secret } from '../lib/index.js'

/** The only code challenge method the broker uses (RFC 7636 §7.2: never downgrade to `plain`). */
export const CODE_CHALLENGE_METHOD = 'S256'

/** Random bytes in a verifier: 64, giving 86 base64url characters. */
export const CODE_VERIFIER_BYTES = 64

/** Random bytes in a `state`: 32, giving 43 base64url characters. */
export const STATE_BYTES = 32

/** A PKCE pair for one authorization request. */
export interface PkcePair {
  /** The verifier, kept by the broker and sent only to the token endpoint. */
  codeVerifier: Secret
  /** `base64url(SHA-256(verifier))`, sent in the authorize URL. */
  codeChallenge: string
  /** Always `S256`. */
  codeChallengeMethod: typeof CODE_CHALLENGE_METHOD
}

/**
 * A fresh code verifier: base64url (no padding) of 64 CSPRNG bytes.
 * @example
 * createCodeVerifier().reveal().length // 86
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export function createCodeVerifier(): Secret {
  return Secret.from(randomBytes(CODE_VERIFIER_BYTES).toString('base64url'))
}

/**
 * The S256 challenge of a verifier: base64url (no padding) of its SHA-256, 43 characters.
 * @example
 * codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk') // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export function codeChallengeS256(codeVerifier: Secret | string): string {
  const value = typeof codeVerifier === 'string' ? codeVerifier : codeVerifier.reveal()
  return createHash('sha256').update(value, 'ascii').digest('base64url')
}

/**
 * A fresh verifier and its S256 challenge.
 * @example
 * const { codeVerifier, codeChallenge } = createPkcePair()
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 */
export function createPkcePair(): PkcePair {
  const codeVerifier = createCodeVerifier()
  return {
    codeVerifier,
    codeChallenge: codeChallengeS256(codeVerifier),
    codeChallengeMethod: CODE_CHALLENGE_METHOD,
  }
}

/**
 * A fresh one-time `state`: base64url of 32 CSPRNG bytes.
 * @example
 * const state = createState() // 43 characters
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.12
 */
export function createState(): string {
  return randomBytes(STATE_BYTES).toString('base64url')
}
