/**
 * `codex-broker/express`: the web handler as Express middleware, `app.use('/api/codex', createCodexRouter(opts))`.
 * Express strips the mount path from `req.url`, so the routes are matched relative to wherever it is mounted. If a
 * body parser (`express.json()`) already consumed the body, the parsed value is sent on as JSON. Nothing is
 * imported from Express itself; it works with Express 4 and 5.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { openCodexDispatch } from '../codex-handler.js'
import type { CodexHandlerOptions } from '../handler-options.js'
import { nodeListenerOf } from './node.js'

/** The parts of an Express request the adapter reads. */
type ExpressRequest = IncomingMessage & { body?: unknown }

/** An Express middleware with the handler's `close`. */
export type CodexRouter = ((
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void) & { readonly close: () => Promise<void> }

/**
 * Creates the middleware (its routes are relative to the mount path; `basePath` is ignored).
 * @example
 * import express from 'express'
 * import { createCodexRouter } from 'codex-broker/express'
 * const app = express()
 * app.use('/api/codex', createCodexRouter({ cookieSecret }))
 */
export function createCodexRouter(options: CodexHandlerOptions): CodexRouter {
  const { dispatch, close } = openCodexDispatch({ ...options, basePath: '' })
  const listener = nodeListenerOf(dispatch, (req: ExpressRequest) =>
    req.readableEnded && req.body !== undefined ? Buffer.from(JSON.stringify(req.body)) : undefined,
  )
  const middleware = (req: IncomingMessage, res: ServerResponse): void => {
    listener(req, res)
  }
  return Object.assign(middleware, { close })
}
