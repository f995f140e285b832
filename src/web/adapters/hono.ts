/**
 * `codex-broker/hono`: the web handler's routes as a Hono app to mount in yours, `app.route('/api/codex',
 * createCodexRoutes(opts))`. The routes are relative to the mount path.
 */
import type { Hono } from 'hono'
import { createCodexHandler } from '../codex-handler.js'
import type { CodexHandlerOptions } from '../handler-options.js'

/**
 * The routes as a Hono app, with `close()` for the handler's upstream connections.
 * @example
 * import { Hono } from 'hono'
 * import { createCodexRoutes } from 'codex-broker/hono'
 * const app = new Hono()
 * app.route('/api/codex', createCodexRoutes({ cookieSecret: process.env.COOKIE_SECRET ?? '' }))
 */
export function createCodexRoutes(
  options: CodexHandlerOptions,
): Hono & { readonly close: () => Promise<void> } {
  const handler = createCodexHandler({ ...options, basePath: '' })
  return Object.assign(handler.app, { close: handler.close })
}
