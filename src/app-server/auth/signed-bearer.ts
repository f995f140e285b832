/**
 * The `signed-bearer-token` mode of the app-server: an HS256 JWT signed with a shared secret read
 * from a private file (PROTOCOL.md §10, SECURITY.md C3.4–C3.11). jose does the cryptography and the
 * claim checks with the algorithm pinned to HS256, `exp` required, the clock skew as tolerance and
 * `iss`/`aud` when configured; {@link isWellFormedJwt} first refuses what jose would be lenient
 * about. Every refusal maps to one of the plain reasons of the official CLI.
 */
import { webcrypto } from 'node:crypto'
import { type CryptoKey, errors, type JWTPayload, jwtVerify } from 'jose'
import {
  BrokerError,
  DEFAULT_SECRET_FILE_MAX_BYTES,
  Secret,
  assertPrivateFile,
  quoteForShell,
} from '../../lib/index.js'
import { isWellFormedJwt } from './jwt-shape.js'
import type { JwtFailureReason } from './reasons.js'

/** The shortest accepted HS256 secret, in bytes: the hash size (RFC 7518 §3.2, codex's minimum). */
export const MIN_SHARED_SECRET_BYTES = 32

/** The default tolerance for `exp` and `nbf`, in seconds (codex's `DEFAULT_MAX_CLOCK_SKEW_SECONDS`). */
export const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 30

/** The claims of an accepted token, as jose decoded them. */
export type WsJwtClaims = Readonly<JWTPayload>

/** The outcome of {@link JwtVerifier.verify}: the claims, or the reason to send with the 401. */
export type JwtResult =
  | { readonly ok: true; readonly claims: WsJwtClaims }
  | { readonly ok: false; readonly reason: JwtFailureReason }

/** Checks signed bearer tokens against one configured secret. Holds the key only in a closure. */
export interface JwtVerifier {
  /** Verifies one token; never throws for a bad token, only answers why it is refused. */
  verify(token: string): Promise<JwtResult>
}

/** Options for {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** The shared secret, at least {@link MIN_SHARED_SECRET_BYTES} bytes (UTF-8 for a `Secret`). */
  readonly secret: Secret | Uint8Array
  /** The required `iss`, when set. */
  readonly issuer?: string
  /** An `aud` the token must name (a string, or one member of an array), when set. */
  readonly audience?: string
  /** Tolerance for `exp` and `nbf`, whole seconds ≥ 0; default {@link DEFAULT_MAX_CLOCK_SKEW_SECONDS}. */
  readonly maxClockSkewSeconds?: number
  /** The current time in epoch milliseconds; default `Date.now`. */
  readonly now?: () => number
}

function invalidConfig(message: string, hint?: string): BrokerError {
  return new BrokerError('ERR_INVALID_CONFIG', message, hint === undefined ? {} : { hint })
}

function shortSecret(bytes: number, where: string, hint: string): BrokerError {
  return invalidConfig(
    `The signed-bearer secret ${where} is ${bytes} bytes; HS256 needs at least ${MIN_SHARED_SECRET_BYTES}. ${hint}`,
    hint,
  )
}

/**
 * Reads the shared secret of `--ws-shared-secret-file`. The file must be private (0600 or
 * stricter, not a symbolic link, owned by you, at most 64 KiB); the secret is its content minus one
 * trailing newline, and must be at least 32 bytes. The content is read as UTF-8 text: a file that is
 * not valid UTF-8 (raw random bytes) is refused rather than silently altered, so generate a text
 * secret (base64 or hex of random bytes).
 *
 * @throws {BrokerError} `ERR_UNSAFE_FILE` for an unsafe file, `ERR_NOT_FOUND` for a missing one,
 * `ERR_INVALID_CONFIG` for a short or non-UTF-8 secret (SECURITY.md JWT-15).
 *
 * @example
 * const secret = await loadSharedSecretFile('/run/secrets/ws-secret')
 * const verifier = createJwtVerifier({ secret, issuer: 'my-app', audience: 'codex-broker' })
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.2
 */
export async function loadSharedSecretFile(path: string): Promise<Secret> {
  const content = await assertPrivateFile(path, { maxBytes: DEFAULT_SECRET_FILE_MAX_BYTES })
  const generate = `Generate one with: (umask 077 && openssl rand -base64 48 > ${quoteForShell(path)})`
  // assertPrivateFile decodes as UTF-8; U+FFFD means bytes were lost, so the key would differ
  // from the one the token issuer uses.
  if (content.includes('\uFFFD')) {
    throw invalidConfig(`The signed-bearer secret in ${path} is not UTF-8 text.`, generate)
  }
  const secret = content.replace(/\r?\n$/, '')
  const bytes = Buffer.byteLength(secret, 'utf8')
  if (bytes < MIN_SHARED_SECRET_BYTES) throw shortSecret(bytes, `in ${path}`, generate)
  return Secret.from(secret)
}

function keyBytes(secret: Secret | Uint8Array): Uint8Array {
  // A copy, so a caller reusing its buffer cannot change the key afterwards.
  const key = secret instanceof Uint8Array ? Uint8Array.from(secret) : Buffer.from(secret.reveal())
  if (key.length < MIN_SHARED_SECRET_BYTES) {
    throw shortSecret(key.length, 'given', 'Use at least 32 random bytes.')
  }
  return key
}

function checkOption(name: string, value: string | undefined): void {
  if (value !== undefined && value.trim() === '') throw invalidConfig(`${name} must not be empty.`)
}

/** The reason of the official CLI for a jose failure; anything unexpected is just "invalid". */
function reasonFor(error: unknown): JwtFailureReason {
  if (error instanceof errors.JWTExpired) return 'expired websocket jwt'
  if (error instanceof errors.JWTClaimValidationFailed) {
    // A missing iss/aud is a mismatch too; a malformed nbf is not "not yet valid".
    if (error.claim === 'iss') return 'websocket jwt issuer mismatch'
    if (error.claim === 'aud') return 'websocket jwt audience mismatch'
    if (error.claim === 'nbf' && error.reason === 'check_failed') {
      return 'websocket jwt is not valid yet'
    }
  }
  return 'invalid websocket jwt'
}

/**
 * A verifier for signed bearer tokens: HS256 only, `exp` required, `nbf` checked when present,
 * both with `maxClockSkewSeconds` of tolerance, `iss` and `aud` when configured. Header fields that
 * name keys (`kid`, `jku`, `x5u`, `jwk`) are ignored and nothing is fetched.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a secret under 32 bytes, a negative or fractional
 * skew, or an empty issuer/audience.
 *
 * @example
 * const verifier = createJwtVerifier({ secret, audience: 'codex-broker' })
 * const result = await verifier.verify(token)
 * if (!result.ok) refuse(401, result.reason) // e.g. 'expired websocket jwt'
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const key = keyBytes(options.secret)
  const skew = options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS
  if (!Number.isSafeInteger(skew) || skew < 0) {
    throw invalidConfig(
      `The maximum clock skew must be a whole number of seconds ≥ 0, got ${skew}.`,
    )
  }
  const { issuer, audience } = options
  checkOption('The issuer', issuer)
  checkOption('The audience', audience)
  const now = options.now ?? Date.now
  // Imported once, as a non-extractable HMAC-SHA-256 verify key: given raw bytes, jose imports the key again for
  // every token, half the cost of a verification.
  let cryptoKey: Promise<CryptoKey> | undefined
  const importedKey = (): Promise<CryptoKey> =>
    (cryptoKey ??= webcrypto.subtle.importKey(
      'raw',
      key,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    ))
  return Object.freeze({
    async verify(token: string): Promise<JwtResult> {
      if (!isWellFormedJwt(token)) return { ok: false, reason: 'invalid websocket jwt' }
      try {
        const { payload } = await jwtVerify(token, await importedKey(), {
          algorithms: ['HS256'],
          requiredClaims: ['exp'],
          clockTolerance: skew,
          currentDate: new Date(now()),
          ...(issuer === undefined ? {} : { issuer }),
          ...(audience === undefined ? {} : { audience }),
        })
        return { ok: true, claims: payload }
      } catch (error) {
        return { ok: false, reason: reasonFor(error) }
      }
    },
  })
}
