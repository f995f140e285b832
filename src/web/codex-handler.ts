/**
 * `createCodexHandler(options)`: the web surface as one Fetch-API function, `(request) => Promise<Response>`, for any
 * server that speaks `Request`/`Response` (Next.js route handlers, Bun, Deno, Cloudflare-style workers). It lets a
 * web app offer "Sign in with ChatGPT" and stream answers while every token stays on the server: the browser only
 * ever holds a signed, HttpOnly session cookie. The node, Express and Hono adapters run the same dispatcher.
 */
import { createCodexDispatch, type CodexDispatch } from './codex-dispatch.js'
import { type CodexHandlerOptions, resolveHandlerOptions } from './handler-options.js'
import { toFetchResponse } from './web-answer.js'

/** The handler: call it with a request; `close()` releases its upstream connections. */
export interface CodexHandler {
  (request: Request): Promise<Response>
  /** Closes the upstream clients the handler made (not the stores it was given). */
  readonly close: () => Promise<void>
}

/** The warning printed when `insecureLocalhostCookie` is on. */
export const INSECURE_COOKIE_WARNING =
  'codex-broker: insecureLocalhostCookie is on — the session cookie is sent without Secure and without the __Host- prefix. Use it only for plain-http localhost development.'

/**
 * The dispatcher behind every surface, for the adapters.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a bad option.
 * @example
 * const { dispatch, close } = openCodexDispatch(options)
 */
export function openCodexDispatch(options: CodexHandlerOptions): {
  readonly dispatch: CodexDispatch
  readonly close: () => Promise<void>
} {
  const settings = resolveHandlerOptions(options)
  if (settings.insecureLocalhostCookie) {
    process.emitWarning(INSECURE_COOKIE_WARNING, { code: 'CODEX_BROKER_INSECURE_COOKIE' })
  }
  return { dispatch: createCodexDispatch(settings), close: settings.close }
}

/**
 * Creates the handler.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a bad option (e.g. a cookie secret under 32 bytes).
 * @example
 * const handler = createCodexHandler({ cookieSecret, basePath: '/api/codex' })
 * // Next.js: export const POST = handler; export const GET = handler
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-browser-based-apps#section-6.1
 */
export function createCodexHandler(options: CodexHandlerOptions): CodexHandler {
  const { dispatch, close } = openCodexDispatch(options)
  const handler = async (request: Request): Promise<Response> =>
    toFetchResponse(await dispatch(request))
  return Object.assign(handler, { close })
}
