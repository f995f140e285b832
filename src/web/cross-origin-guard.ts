/**
 * The CSRF gate of every state-changing request (SECURITY.md C4.6, C4.7; the BR-11…BR-25 matrix): Fetch Metadata
 * first — `Sec-Fetch-Site: same-origin` or `none` passes, `same-site` (another localhost port: cookies are not
 * isolated by port) and `cross-site` do not unless their `Origin` is allowlisted — then, without that header, the
 * `Origin` must be the exact serving origin (scheme, host and port) or an allowlisted one; a request with neither
 * is refused. Every API call must also carry the static header `X-Codex-Broker: 1`, which no form, image or
 * `no-cors` fetch can send, so a cross-origin caller always needs a CORS preflight that only allowlisted origins
 * pass. Safe methods change nothing and pass the Fetch Metadata part (they still need the static header).
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-browser-based-apps#section-6.1.3.2
 * @see https://w3c.github.io/webappsec-fetch-metadata/
 */

/** The static header every API request carries. */
export const STATIC_HEADER_NAME = 'x-codex-broker'
/** Its only accepted value. */
export const STATIC_HEADER_VALUE = '1'

import type { WebRequest } from './web-answer.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Why the request must be refused (403), or null to let it through.
 * @example
 * const refusal = crossOriginRefusal(request, 'http://127.0.0.1:3000', new Set())
 */
export function crossOriginRefusal(
  request: WebRequest,
  servingOrigin: string,
  allowedOrigins: ReadonlySet<string>,
): string | null {
  if (request.headers.get(STATIC_HEADER_NAME) !== STATIC_HEADER_VALUE) {
    return `API requests must carry the header ${STATIC_HEADER_NAME}: ${STATIC_HEADER_VALUE}.`
  }
  if (SAFE_METHODS.has(request.method)) return null
  const origin = request.headers.get('origin')
  const allowlisted = origin !== null && allowedOrigins.has(origin)
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) {
    if (site === 'same-origin' || site === 'none' || allowlisted) return null
    return 'Cross-origin requests are refused.'
  }
  if (origin === null) return 'A request without Origin or Sec-Fetch-Site is refused.'
  if (origin === servingOrigin || allowlisted) return null
  return 'Cross-origin requests are refused.'
}
