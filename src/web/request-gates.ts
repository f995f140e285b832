/**
 * The gates every request passes before a route runs, in this order: the serving origin (Host allowlist against DNS
 * rebinding), CORS preflights (answered here, never routed), then the static header and the CSRF rules for the
 * method (cross-origin-guard.ts). Every answer — routed or refused — then gets the CORS headers for its origin
 * and the hardening headers: `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
 * `Cross-Origin-Resource-Policy: same-origin` (a `<script>` or `<img>` on another site cannot read it) and a CSP
 * that forbids framing (BR-34).
 */
import { corsHeaders, preflightAnswer } from './cors-policy.js'
import { crossOriginRefusal } from './cross-origin-guard.js'
import type { HandlerSettings } from './handler-options.js'
import { servingOrigin } from './request-origin.js'
import type { WebAnswer, WebRequest } from './web-answer.js'
import { errorAnswer } from './web-error.js'

const HARDENING_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
}

/**
 * The refusal of a request that must not reach a route (or the answer to a preflight), or null.
 * @example
 * const refused = refuseRequest(request, settings)
 * if (refused !== null) return finishAnswer(request, refused, settings)
 */
export function refuseRequest(request: WebRequest, settings: HandlerSettings): WebAnswer | null {
  const serving = servingOrigin(request, settings)
  if (!serving.ok) return errorAnswer(403, 'host_not_allowed', serving.message)
  if (request.method === 'OPTIONS') return preflightAnswer(request, settings.allowedOrigins)
  const refusal = crossOriginRefusal(request, serving.origin, settings.allowedOrigins)
  return refusal === null ? null : errorAnswer(403, 'forbidden', refusal)
}

/**
 * Adds the CORS and hardening headers to an answer (a preflight keeps its own).
 * @example
 * return finishAnswer(request, await route(request, context), settings)
 */
export function finishAnswer(
  request: WebRequest,
  answer: WebAnswer,
  settings: HandlerSettings,
): WebAnswer {
  if (request.method === 'OPTIONS') return answer
  Object.assign(answer.headers, HARDENING_HEADERS, corsHeaders(request, settings.allowedOrigins))
  return answer
}
