/**
 * `codex-broker/hono`: the web handler's routes as a Hono app to mount in yours, `app.route('/api/codex',
 * createCodexRoutes(opts))`. The routes are relative to the mount path: the mount prefix is taken off the path
 * before the handler's dispatcher sees the request.
 */
import { Hono } from 'hono'
import { basePath } from 'hono/route'
import { openCodexDispatch } from '../codex-handler.js'
import type { CodexHandlerOptions } from '../handler-options.js'
import { toFetchResponse } from '../web-answer.js'

/**
 * The routes as a Hono app, with `close()` for the handler's upstream connections.
 * @example
 * import { Hono } from 'hono'
import { basePath } from 'hono/route'
 * import { createCodexRoutes } from 'codex-broker/hono'
 * const app = new Hono()
 * app.route('/api/codex', createCodexRoutes({ cookieSecret }))
 */
export function createCodexRoutes(
  options: CodexHandlerOptions,
): Hono & { readonly close: () => Promise<void> } {
  const { dispatch, close } = openCodexDispatch({ ...options, basePath: '' })
  const app = new Hono()
  app.all('*', async (c) => {
    const raw = c.req.raw
    // The dispatcher matches paths relative to the mount point.
    const prefix = basePath(c).replace(/\/$/, '')
    const url = new URL(raw.url)
    if (prefix !== '' && url.pathname.startsWith(prefix)) {
      url.pathname = url.pathname.slice(prefix.length) || '/'
    }
    const request = {
      method: raw.method,
      url: url.href,
      headers: raw.headers,
      signal: raw.signal,
      body: raw.body,
    }
    return toFetchResponse(await dispatch(request))
  })
  return Object.assign(app, { close })
}
