/**
 * The gates every request passes before a route runs, in this order: the serving origin (Host allowlist against DNS
 * rebinding), CORS preflights (answered here, never routed), then the static header and the CSRF rules for the
 * method (cross-origin-guard.ts). Every answer — routed or refused — then gets the CORS headers for its origin
 * and the hardening headers: `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
 * `Cross-Origin-Resource-Policy: same-origin` (a `<script>` or `<img>` on another site cannot read it) and a CSP
 * that forbids framing (BR-34).
 */
import { corsHeaders, preflightResponse } from './cors-policy.js'
import { crossOriginRefusal } from './cross-origin-guard.js'
import type { HandlerSettings } from './handler-options.js'
import { servingOrigin } from './request-origin.js'
import { errorResponse } from './web-error.js'

const HARDENING_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
}

/**
 * The refusal of a request that must not reach a route, or null.
 * @example
 * const refused = refuseRequest(request, settings)
 * if (refused !== null) return finishResponse(request, refused, settings)
 */
export function refuseRequest(request: Request, settings: HandlerSettings): Response | null {
  const serving = servingOrigin(request, settings)
  if (!serving.ok) return errorResponse(403, 'host_not_allowed', serving.message)
  if (request.method === 'OPTIONS') return preflightResponse(request, settings.allowedOrigins)
  const refusal = crossOriginRefusal(request, serving.origin, settings.allowedOrigins)
  return refusal === null ? null : errorResponse(403, 'forbidden', refusal)
}

/**
 * Adds the CORS and hardening headers to an answer (a preflight keeps its own).
 * @example
 * return finishResponse(request, await route(request, context), settings)
 */
export function finishResponse(
  request: Request,
  response: Response,
  settings: HandlerSettings,
): Response {
  if (request.method === 'OPTIONS') return response
  for (const [name, value] of Object.entries(HARDENING_HEADERS)) response.headers.set(name, value)
  for (const [name, value] of Object.entries(corsHeaders(request, settings.allowedOrigins))) {
    response.headers.set(name, value)
  }
  return response
}
