/**
 * The routes of the web handler as a Hono app (DESIGN.md "The web handler"): `POST /session`, `POST /login/start`,
 * `GET /status`, `POST /run/stream`, `POST /logout`, each behind the request gates, with another method on a known
 * path answered 405 and any other path 404 — all as JSON, all with the hardening and CORS headers. Anything a
 * route throws becomes its answer in one place (web-error.ts); an unexpected error is logged (redacted) and
 * answered as a generic 500, and never takes the server down.
 */
import { Hono, type Context } from 'hono'
import type { HandlerSettings } from './handler-options.js'
import { finishResponse, refuseRequest } from './request-gates.js'
import type { Route, RouteContext } from './route-context.js'
import { loginStartRoute } from './routes/login-start-route.js'
import { logoutRoute } from './routes/logout-route.js'
import { runRoute } from './routes/run-route.js'
import { sessionRoute } from './routes/session-route.js'
import { statusRoute } from './routes/status-route.js'
import { SessionGate } from './session-gate.js'
import { errorResponse, responseForError, WebRefusal } from './web-error.js'

const ROUTES: readonly (readonly ['GET' | 'POST', string, Route])[] = [
  ['POST', '/session', sessionRoute],
  ['POST', '/login/start', loginStartRoute],
  ['GET', '/status', statusRoute],
  ['POST', '/run/stream', runRoute],
  ['POST', '/logout', logoutRoute],
]

/**
 * Builds the app for settings already checked by `resolveHandlerOptions`.
 * @example
 * const app = buildCodexApp(resolveHandlerOptions(options))
 * const response = await app.fetch(request)
 */
export function buildCodexApp(settings: HandlerSettings): Hono {
  const context: RouteContext = { settings, gate: new SessionGate(settings), polls: new Map() }
  const app = new Hono()
  app.use('*', async (c, next) => {
    const request = c.req.raw
    const refused = refuseRequest(request, settings)
    if (refused !== null) return finishResponse(request, refused, settings)
    await next()
    c.res = finishResponse(request, c.res, settings)
    return undefined
  })
  const run = (route: Route) => async (c: Context) => {
    try {
      return await route(c.req.raw, context)
    } catch (error) {
      if (!(error instanceof WebRefusal)) {
        settings.logger.warn({ event: 'web.error', err: error }, 'request failed')
      }
      return responseForError(error)
    }
  }
  for (const [method, routePath, route] of ROUTES) {
    const path = `${settings.basePath}${routePath}`
    app.on(method, path, run(route))
    app.all(path, () =>
      errorResponse(405, 'method_not_allowed', `Use ${method} for this path.`, { allow: method }),
    )
  }
  app.notFound(() => errorResponse(404, 'not_found', 'No such route.'))
  app.onError((error) => {
    settings.logger.warn({ event: 'web.error', err: error }, 'request failed')
    return responseForError(error)
  })
  return app
}
