/**
 * Validation of the sign-in address the broker hands back before the sign-in window is sent there or a link to it
 * is rendered. The address must parse as a URL whose origin is exactly one of the allowed origins (default
 * `https://auth.openai.com`), and carry no user name or password. An allowed origin must itself be `https:`, or
 * `http:` on a loopback host (`127.0.0.1`, `localhost`, `[::1]`), which is what a local simulator serves; any
 * other entry of the list is ignored. So `javascript:`, `data:`, plain `http:` elsewhere, look-alike hosts
 * (`auth.openai.com.evil.com`) and unparsable strings are all refused.
 */

/** The origins the sign-in window may be sent to by default. */
export const DEFAULT_LOGIN_ORIGINS: readonly string[] = Object.freeze(['https://auth.openai.com'])

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

function parseUrl(value: string): URL | null {
  try {
    return new URL(value)
  } catch {
    return null
  }
}

/**
 * The normalised origin of one entry of the allowed list, or `null` if the entry cannot be allowed (not a URL,
 * neither `https:` nor loopback `http:`).
 * @example
 * allowedOrigin('https://AUTH.openai.com/') // 'https://auth.openai.com'
 * allowedOrigin('http://127.0.0.1:8787') // 'http://127.0.0.1:8787'
 * allowedOrigin('http://example.com') // null
 */
export function allowedOrigin(entry: string): string | null {
  const url = parseUrl(entry)
  if (url === null) return null
  if (url.protocol === 'https:') return url.origin
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url.origin
  return null
}

/**
 * The normalised sign-in address if `candidate` is on one of `allowedOrigins` (exact origin match), else `null`.
 * Only a non-null result may be navigated to or linked.
 * @example
 * validateLoginUrl('https://auth.openai.com/codex/device', DEFAULT_LOGIN_ORIGINS)
 * // 'https://auth.openai.com/codex/device'
 * validateLoginUrl('javascript:alert(1)', DEFAULT_LOGIN_ORIGINS) // null
 * validateLoginUrl('https://auth.openai.com.evil.com/', DEFAULT_LOGIN_ORIGINS) // null
 */
export function validateLoginUrl(
  candidate: unknown,
  allowedOrigins: readonly string[] = DEFAULT_LOGIN_ORIGINS,
): string | null {
  if (typeof candidate !== 'string') return null
  const url = parseUrl(candidate)
  if (url === null || url.username !== '' || url.password !== '') return null
  const allowed = allowedOrigins.some((entry) => allowedOrigin(entry) === url.origin)
  return allowed ? url.href : null
}
