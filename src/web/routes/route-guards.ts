/**
 * The refusals routes share: no session or a bad one (401, with the cookie cleared so the browser's next
 * `POST /session` starts clean), a session that is not signed in (401), and a rate limit (429 with `Retry-After`).
 */
import type { LoadedSession, SessionGate } from '../session-gate.js'
import type { WebRequest } from '../web-answer.js'
import type { WebSession } from '../web-session.js'
import { WebRefusal } from '../web-error.js'

/**
 * The live session of the request.
 * @throws {WebRefusal} 401 `no_session` without a cookie, `session_expired` for a bad or ended one.
 * @example
 * const { key, session } = await requireLiveSession(request, gate)
 */
export async function requireLiveSession(
  request: WebRequest,
  gate: SessionGate,
): Promise<{ readonly key: string; readonly session: WebSession }> {
  return liveSessionOf(await gate.load(request), gate)
}

/**
 * The live session of an already loaded cookie.
 * @throws {WebRefusal} as {@link requireLiveSession}.
 * @example
 * const loaded = await gate.load(request)
 * if (loaded.kind === 'none') return anonymousAnswer()
 * const { key, session } = liveSessionOf(loaded, gate)
 */
export function liveSessionOf(
  loaded: LoadedSession,
  gate: SessionGate,
): { readonly key: string; readonly session: WebSession } {
  if (loaded.kind === 'live') return loaded
  if (loaded.kind === 'none') {
    throw new WebRefusal(401, 'no_session', 'No session: call POST /session first.')
  }
  throw new WebRefusal(
    401,
    'session_expired',
    'The session has ended or is not valid: call POST /session and sign in again.',
    { 'set-cookie': gate.clearCookie() },
  )
}

/**
 * The 429 of a rate limit.
 * @example
 * if (limited !== null) throw tooManyRequests(limited.retryAfterSeconds)
 */
export function tooManyRequests(retryAfterSeconds: number): WebRefusal {
  return new WebRefusal(
    429,
    'rate_limited',
    `Too many requests; try again in ${retryAfterSeconds} s.`,
    { 'retry-after': String(retryAfterSeconds) },
  )
}
