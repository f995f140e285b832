/**
 * The routes of the web handler (DESIGN.md "The web handler"): `POST /session`, `POST /login/start`, `GET /status`,
 * `POST /run/stream`, `POST /logout`, matched by Hono's router, each behind the request gates, with another method
 * on a known path answered 405 and any other path 404 — all as JSON, all with the hardening and CORS headers.
 * Anything a route throws becomes its answer in one place (web-error.ts); an unexpected error is logged (redacted)
 * and answered as a generic 500, and never takes the server down. Every surface — the Fetch handler and the node,
 * Express and Hono adapters — dispatches through this one function, so they all run the same gates.
 */
import { TrieRouter } from 'hono/router/trie-router'
import type { HandlerSettings } from './handler-options.js'
import { finishAnswer, refuseRequest } from './request-gates.js'
import type { Route, RouteContext } from './route-context.js'
import { loginStartRoute } from './routes/login-start-route.js'
import { logoutRoute } from './routes/logout-route.js'
import { runRoute } from './routes/run-route.js'
import { sessionRoute } from './routes/session-route.js'
import { statusRoute } from './routes/status-route.js'
import { SessionGate } from './session-gate.js'
import type { WebAnswer, WebRequest } from './web-answer.js'
import { answerForError, errorAnswer, WebRefusal } from './web-error.js'

/** Answers a request. */
export type CodexDispatch = (request: WebRequest) => Promise<WebAnswer>

const ROUTES: readonly (readonly ['GET' | 'POST', string, Route])[] = [
  ['POST', '/session', sessionRoute],
  ['POST', '/login/start', loginStartRoute],
  ['GET', '/status', statusRoute],
  ['POST', '/run/stream', runRoute],
  ['POST', '/logout', logoutRoute],
]

/**
 * Every route's method and path (relative to the mount point), for tests that must cover each route, such as the
 * cross-origin browser matrix: a new route is attacked there as soon as it is added here.
 */
export const CODEX_ROUTES: readonly { readonly method: 'GET' | 'POST'; readonly path: string }[] =
  ROUTES.map(([method, path]) => ({ method, path }))

/** A matched path: the route for its method, or the 405 for another. */
type Target = { readonly route: Route } | { readonly allow: string }

/** The path of a URL without parsing it whole: from the first `/` after the authority to `?` or `#`. */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return '/'
  let end = url.length
  const query = url.indexOf('?', start)
  if (query !== -1) end = query
  const hash = url.indexOf('#', start)
  if (hash !== -1 && hash < end) end = hash
  return url.slice(start, end)
}

/**
 * Builds the dispatcher for settings already checked by `resolveHandlerOptions`.
 * @example
 * const dispatch = createCodexDispatch(resolveHandlerOptions(options))
 * const answer = await dispatch(request)
 */
export function createCodexDispatch(settings: HandlerSettings): CodexDispatch {
  const context: RouteContext = { settings, gate: new SessionGate(settings), polls: new Map() }
  const router = new TrieRouter<Target>()
  for (const [method, routePath, route] of ROUTES) {
    const path = `${settings.basePath}${routePath}`
    router.add(method, path, { route })
    router.add('ALL', path, { allow: method })
  }
  const run = async (route: Route, request: WebRequest): Promise<WebAnswer> => {
    try {
      return await route(request, context)
    } catch (error) {
      if (!(error instanceof WebRefusal)) {
        settings.logger.warn({ event: 'web.error', err: error }, 'request failed')
      }
      return answerForError(error)
    }
  }
  return async (request) => {
    const refused = refuseRequest(request, settings)
    if (refused !== null) return finishAnswer(request, refused, settings)
    const [matches] = router.match(request.method, pathOf(request.url))
    const target = matches[0]?.[0]
    let answer: WebAnswer
    if (target === undefined) answer = errorAnswer(404, 'not_found', 'No such route.')
    else if ('route' in target) answer = await run(target.route, request)
    else {
      answer = errorAnswer(405, 'method_not_allowed', `Use ${target.allow} for this path.`, {
        allow: target.allow,
      })
    }
    return finishAnswer(request, answer, settings)
  }
}
