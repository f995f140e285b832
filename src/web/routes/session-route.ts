/**
 * `POST /session`: `{loggedIn, account}` for the cookie's session, or — without a cookie, or with one that is
 * forged, unknown or expired — a new anonymous session under a fresh id (never the presented one: BR-06). This is
 * the one route that recovers from a bad cookie; every other route answers 401 to it. In API-key mode every
 * session is signed in (the app's key serves everyone) and `account` is null.
 */
import type { WebSession } from '../web-session.js'
import { anonymousSession } from '../web-session.js'
import { jsonAnswer } from '../web-answer.js'
import type { Route } from '../route-context.js'

/**
 * What the browser may know of a session's account: email and plan, nothing else.
 * @example
 * publicAccount(session) // { email: 'a@example.com', plan: 'plus' } or null
 */
export function publicAccount(
  session: WebSession,
): { readonly email: string | null; readonly plan: string | null } | null {
  return session.account === null
    ? null
    : { email: session.account.email, plan: session.account.plan }
}

/** The route. */
export const sessionRoute: Route = async (request, { settings, gate }) => {
  const apiKeyMode = settings.tokens === null
  const loaded = await gate.load(request)
  if (loaded.kind === 'live') {
    const { session } = loaded
    return jsonAnswer({
      loggedIn: apiKeyMode || session.account !== null,
      account: publicAccount(session),
    })
  }
  const created = await gate.create(anonymousSession(settings.clock.now()))
  return jsonAnswer({ loggedIn: apiKeyMode, account: null }, 200, {
    'set-cookie': created.setCookie,
  })
}
