/**
 * Random identifiers and secrets for the simulator. Every secret it hands out comes from the CSPRNG and carries a
 * recognisable prefix, so a leak scan (`GET /__sim/issued`) and a human reading a log can both tell what it is.
 */
import { randomBytes, randomUUID } from 'node:crypto'

/** A base64url string of `bytes` random bytes, without padding. */
export function randomBase64Url(bytes: number): string {
  return randomBytes(bytes).toString('base64url')
}

/** A prefixed opaque secret, e.g. `rt_…` for a refresh token. */
export function randomSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBase64Url(bytes)}`
}

/** A random UUID (v4). */
export function randomId(): string {
  return randomUUID()
}

// No 0/O, 1/I/L: codes are typed by people.
const USER_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'

/** A device-flow user code shaped like the real issuer's, `ABCD-EFGH`. */
export function randomUserCode(): string {
  const bytes = randomBytes(8)
  let code = ''
  for (let i = 0; i < 8; i += 1) {
    if (i === 4) code += '-'
    code += USER_CODE_ALPHABET.charAt((bytes[i] ?? 0) % USER_CODE_ALPHABET.length)
  }
  return code
}
