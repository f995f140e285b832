/**
 * The session cookie (DESIGN.md "The web handler", SECURITY.md C4.1–C4.3): an opaque 256-bit id from the CSPRNG,
 * signed with HMAC-SHA256 under the app's `cookieSecret`, sent as `__Host-Http-codex-broker` with `Secure;
 * HttpOnly; SameSite=Strict; Path=/` and no `Domain`. The value is `<id>.<mac>`, both unpadded base64url of 32
 * bytes (43 characters). Verification checks the exact shape first, then compares the MAC *text* in constant time:
 * comparing decoded bytes would accept the two spare low bits of the last base64url character, so a bit flip there
 * would pass (BR-02). The development switch `insecureLocalhostCookie` drops `Secure` and the prefix for plain-http
 * localhost, and the handler prints a warning when it is on.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-4.1
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { BrokerError, type Secret } from '../lib/index.js'

/** The cookie's name: the `__Host-Http-` prefix binds it to this host, `Secure`, `HttpOnly` and `Path=/`. */
export const SESSION_COOKIE_NAME = '__Host-Http-codex-broker'

/** The name used with `insecureLocalhostCookie` (plain http on localhost cannot carry a prefixed cookie). */
export const INSECURE_SESSION_COOKIE_NAME = 'codex-broker-dev-session'

/** The shortest accepted `cookieSecret`, in bytes. */
export const MIN_COOKIE_SECRET_BYTES = 32

const SESSION_ID_BYTES = 32
const ENCODED_LENGTH = 43
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/
const MAC_LABEL = 'codex-broker web session v1\0'

/**
 * A fresh session id: 32 bytes from the CSPRNG, base64url (256 bits, meaningless, never in a URL).
 * @example
 * const id = newSessionId() // 'q3…' (43 characters)
 */
export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url')
}

/**
 * Signs and verifies session cookie values.
 * @example
 * const signer = new SessionCookieSigner(Secret.from(cookieSecret))
 * const value = signer.sign(newSessionId())
 * signer.verify(value) // the id, or null for anything forged, truncated or extended
 */
export class SessionCookieSigner {
  readonly #key: Buffer

  /** @throws {BrokerError} `ERR_INVALID_CONFIG` for a secret shorter than 32 bytes. */
  constructor(secret: Secret) {
    const bytes = Buffer.from(secret.reveal(), 'utf8')
    if (bytes.length < MIN_COOKIE_SECRET_BYTES) {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        `cookieSecret must be at least ${MIN_COOKIE_SECRET_BYTES} bytes (it has ${bytes.length}).`,
        { hint: 'Generate one with: openssl rand -base64 48' },
      )
    }
    this.#key = bytes
  }

  /** `<id>.<mac>` for a session id made by {@link newSessionId}. */
  sign(sessionId: string): string {
    return `${sessionId}.${this.#mac(sessionId)}`
  }

  /** The session id of a genuine value; null for any other string (wrong shape, length or MAC). */
  verify(value: string): string | null {
    if (value.length !== 2 * ENCODED_LENGTH + 1 || !COOKIE_VALUE.test(value)) return null
    const sessionId = value.slice(0, ENCODED_LENGTH)
    const presented = Buffer.from(value.slice(ENCODED_LENGTH + 1), 'latin1')
    const expected = Buffer.from(this.#mac(sessionId), 'latin1')
    return timingSafeEqual(presented, expected) ? sessionId : null
  }

  #mac(sessionId: string): string {
    return createHmac('sha256', this.#key).update(MAC_LABEL).update(sessionId).digest('base64url')
  }
}

/** How the cookie is written. */
export interface SessionCookieOptions {
  /** Plain-http localhost development: no `Secure`, no prefix. */
  readonly insecureLocalhost: boolean
  /** `Max-Age` in seconds (the absolute session lifetime). */
  readonly maxAgeSeconds: number
}

/**
 * The cookie's name for these options.
 * @example
 * sessionCookieName({ insecureLocalhost: false, maxAgeSeconds: 3600 }) // '__Host-Http-codex-broker'
 */
export function sessionCookieName(
  options: Pick<SessionCookieOptions, 'insecureLocalhost'>,
): string {
  return options.insecureLocalhost ? INSECURE_SESSION_COOKIE_NAME : SESSION_COOKIE_NAME
}

/**
 * A `Set-Cookie` value that stores the signed session.
 * @example
 * headers.append('set-cookie', sessionSetCookie(signer.sign(id), options))
 */
export function sessionSetCookie(signedValue: string, options: SessionCookieOptions): string {
  const secure = options.insecureLocalhost ? '' : '; Secure'
  return `${sessionCookieName(options)}=${signedValue}; Path=/; Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}; HttpOnly; SameSite=Strict${secure}`
}

/**
 * A `Set-Cookie` value that deletes the session cookie.
 * @example
 * headers.append('set-cookie', clearSessionSetCookie(options))
 */
export function clearSessionSetCookie(
  options: Pick<SessionCookieOptions, 'insecureLocalhost'>,
): string {
  const secure = options.insecureLocalhost ? '' : '; Secure'
  return `${sessionCookieName(options)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure}`
}

/**
 * The value of cookie `name` in a `Cookie` header; null when absent. A name sent twice is ambiguous (a sibling
 * service on another port may have planted one), so it counts as a forged value: the empty string.
 * @example
 * cookieValue('a=1; __Host-Http-codex-broker=abc.def', SESSION_COOKIE_NAME) // 'abc.def'
 */
export function cookieValue(header: string | null, name: string): string | null {
  if (header === null) return null
  let found: string | null = null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    if (found !== null) return ''
    found = part.slice(eq + 1).trim()
  }
  return found
}
