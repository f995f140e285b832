/**
 * Test support for the signed-bearer tests: a fixed secret, clock, issuer and audience, and helpers
 * that assemble compact JWS tokens by hand (any header, any payload text, any HMAC), so that
 * vectors a well-behaved library would refuse to produce (duplicate names, bad UTF-8, floats) can
 * still be built.
 */
import { createHmac } from 'node:crypto'
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/app-server/index.js'

/** 44 bytes of shared secret. */
export const SECRET = Buffer.from('test-shared-secret-0123456789abcdef-0123456789')
export const ISSUER = 'https://issuer.test'
export const AUDIENCE = 'codex-broker-tests'
/** The fixed "now" of every test, in whole seconds. */
export const NOW_S = 1_800_000_000
export const SKEW_S = 30

/** base64url of a string's UTF-8 bytes, or of raw bytes. */
export function b64(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url')
}

/** The HMAC (base64url) of `header.payload` with `key` and `hash`. */
export function hmac(
  signingInput: string,
  key: Uint8Array | string = SECRET,
  hash = 'sha256',
): string {
  return createHmac(hash, key).update(signingInput).digest('base64url')
}

/** A token from raw header/payload bytes or text, HMAC-signed (HS256 with SECRET by default). */
export function assemble(
  header: string | Uint8Array,
  payload: string | Uint8Array,
  key: Uint8Array | string = SECRET,
  hash = 'sha256',
): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${hmac(input, key, hash)}`
}

/** Claims that pass: our issuer and audience, expiring in ten minutes. */
export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'client-1', iat: NOW_S, exp: NOW_S + 600, ...overrides }
}

/** A token with the given header and claims objects, signed with SECRET. */
export function token(
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
  payload: Record<string, unknown> = claims(),
  key: Uint8Array | string = SECRET,
): string {
  return assemble(JSON.stringify(header), JSON.stringify(payload), key)
}

/** The verifier of the SECURITY.md JWT table: HS256, iss/aud configured, skew 30 s, fixed now. */
export function verifier(overrides: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    maxClockSkewSeconds: SKEW_S,
    now: () => NOW_S * 1000,
    ...overrides,
  })
}
