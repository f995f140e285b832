/**
 * How every issuer route answers. A handler returns an `IssuerAnswer` (JSON, an HTML page or a redirect) rather
 * than writing to the socket; `issuerRoute` turns a thrown `SimHttpError` into an answer, applies the route's
 * queued `cut` or `slow` fault, and only then sends. A `cut` drops the connection after the handler has done its
 * work, so it models the dangerous kind of failure: the issuer rotated the refresh token and the client never saw
 * the new one.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { sendHtml, sendJson, SimHttpError, type SimRequestContext, type SimRoute } from '../http.js'

/** What an issuer handler answers; `issuerRoute` sends it. */
export type IssuerAnswer =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'html'; status: number; html: string; headers?: Record<string, string> }
  | { kind: 'redirect'; location: string }

/** A JSON answer. */
export function json(status: number, body: unknown): IssuerAnswer {
  return { kind: 'json', status, body }
}

/** An HTML answer; `headers` may override the default Content-Security-Policy. */
export function html(
  status: number,
  page: string,
  headers: Record<string, string> = {},
): IssuerAnswer {
  return { kind: 'html', status, html: page, headers }
}

/** A 302 to `location`. */
export function redirect(location: string): IssuerAnswer {
  return { kind: 'redirect', location }
}

/** Options of `issuerRoute`. */
export interface IssuerRouteOptions {
  /** Headers added to every JSON answer of the route, errors included (the token endpoint's `Pragma`). */
  jsonHeaders?: Record<string, string>
}

/**
 * Builds a route whose handler returns an answer; errors become answers here, at the edge.
 * @example
 * issuerRoute('GET', '/.well-known/jwks.json', (ctx) => json(200, ctx.state.signer.jwks()))
 */
export function issuerRoute(
  method: SimRoute['method'],
  path: string,
  run: (ctx: SimRequestContext) => Promise<IssuerAnswer> | IssuerAnswer,
  options: IssuerRouteOptions = {},
): SimRoute {
  return {
    method,
    path,
    async handle(ctx) {
      let answer: IssuerAnswer
      try {
        answer = await run(ctx)
      } catch (error) {
        if (!(error instanceof SimHttpError)) throw error
        answer = json(error.status, error.body)
      }
      if (!(await survivesFault(ctx))) return
      send(ctx, answer, options.jsonHeaders ?? {})
    },
  }
}

/** Applies a `slow` (wait, then answer) or `cut` (drop the connection) fault; false when nothing is to be sent. */
async function survivesFault(ctx: SimRequestContext): Promise<boolean> {
  if (ctx.fault === 'cut') {
    ctx.res.destroy()
    return false
  }
  if (ctx.fault === 'slow') {
    try {
      await delay(ctx.state.config.slowStreamDelayMs, undefined, { signal: ctx.signal })
    } catch {
      // The client gave up while we waited; there is no one left to answer.
      return false
    }
  }
  return true
}

function send(ctx: SimRequestContext, answer: IssuerAnswer, jsonHeaders: Record<string, string>) {
  switch (answer.kind) {
    case 'json':
      sendJson(ctx.res, answer.status, answer.body, { ...jsonHeaders, ...answer.headers })
      return
    case 'html':
      sendHtml(ctx.res, answer.status, answer.html, answer.headers)
      return
    case 'redirect':
      ctx.res.writeHead(302, {
        location: answer.location,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-length': 0,
      })
      ctx.res.end()
      return
  }
}
