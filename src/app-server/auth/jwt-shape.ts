/**
 * The checks a signed bearer token must pass before jose sees it (SECURITY.md JWT-16…22, C3.9,
 * C3.10). jose is lenient where a parser may be: it decodes non-canonical base64url, replaces bad
 * UTF-8 with U+FFFD, keeps the last of two equal JSON names, honours `crit: ["b64"]` and accepts
 * any finite number as a NumericDate. Each of those lets two parsers disagree about one token, so
 * we refuse them here, on a token of bounded size, before any cryptography.
 *
 * Decisions:
 * - `typ` may be absent (tokens from jose's `SignJWT` and many clients carry none; the official
 *   CLI does not require it), or `JWT` / `application/jwt` in any case (RFC 7515 §4.1.9, RFC 7519
 *   §5.1). Any other `typ` (`at+jwt`, `dpop+jwt`, …) names another kind of token: refused.
 * - `exp`, `nbf` and `iat` must be non-negative safe integers. RFC 7519 §2 allows fractional
 *   NumericDates, but SECURITY.md JWT-21 refuses floats, and 1e30 (a token that never expires in
 *   practice) is not a safe integer.
 * - `crit` is refused whatever it lists: we understand no extension (RFC 7515 §4.1.11).
 * - `kid`, `jku`, `x5u`, `x5c` and `jwk` are ignored: there is one key, configured locally, and
 *   nothing is ever fetched (JWT-23, JWT-24).
 */
import { hasDuplicateKeys } from './duplicate-keys.js'

/** The longest token looked at (8 KiB); a shared-secret JWT is a few hundred bytes (JWT-22). */
export const MAX_JWT_LENGTH = 8192

const BASE64URL = /^[A-Za-z0-9_-]+$/
const ACCEPTED_TYP = new Set(['jwt', 'application/jwt'])
const NUMERIC_DATES = ['exp', 'nbf', 'iat'] as const
/** Fatal: bad and overlong sequences throw. `ignoreBOM`: a BOM stays in the text, so JSON.parse fails. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

type JsonObject = Readonly<Record<string, unknown>>

/** The bytes of a canonical unpadded base64url segment, else null (padding, foreign or stray bits). */
function decodeSegment(segment: string): Buffer | null {
  if (!BASE64URL.test(segment)) return null
  const bytes = Buffer.from(segment, 'base64url')
  // Re-encoding must give the same text: this rules out a length of 4n+1 and non-zero spare bits,
  // so one signature has exactly one spelling.
  return bytes.toString('base64url') === segment ? bytes : null
}

/** A JSON object from strict UTF-8 with no repeated names, else null. */
function parseObject(bytes: Buffer): JsonObject | null {
  let value: unknown
  let text: string
  try {
    text = utf8.decode(bytes)
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  return hasDuplicateKeys(text) ? null : (value as JsonObject)
}

function acceptableHeader(header: JsonObject): boolean {
  if (header.alg !== 'HS256' || 'crit' in header) return false
  const typ = header.typ
  return typ === undefined || (typeof typ === 'string' && ACCEPTED_TYP.has(typ.toLowerCase()))
}

function acceptablePayload(payload: JsonObject): boolean {
  return NUMERIC_DATES.every((name) => {
    const value = payload[name]
    return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0)
  })
}

/**
 * True when `token` is a compact JWS of three canonical base64url segments whose header and
 * payload are strict UTF-8 JSON objects without repeated names, with `alg: "HS256"`, no `crit`,
 * an accepted `typ` and integer NumericDates (rules and reasons in the module comment). It says
 * nothing about the signature or the claims' values: jose checks those next.
 *
 * @example
 * isWellFormedJwt('eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.' + 'A'.repeat(43)) // true
 * isWellFormedJwt('a.b.c.d') // false
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3
 */
export function isWellFormedJwt(token: string): boolean {
  if (token.length > MAX_JWT_LENGTH) return false
  const segments = token.split('.')
  if (segments.length !== 3) return false
  const [headerBytes, payloadBytes, signature] = segments.map(decodeSegment)
  if (!headerBytes || !payloadBytes || !signature) return false
  const header = parseObject(headerBytes)
  const payload = parseObject(payloadBytes)
  return (
    header !== null && payload !== null && acceptableHeader(header) && acceptablePayload(payload)
  )
}
