/**
 * The server behind `codex-broker web` and the demo's web step: the web handler mounted at `/api/codex` (through
 * its node adapter) and the page at `/` with its script and stylesheet, on one loopback port. The page routes pass
 * the same Host allowlist as the handler (only this listener's loopback names), so a DNS-rebound name gets nothing;
 * anything else is 404.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCodexNodeListener } from '../web/adapters/node.js'
import type { CodexHandlerOptions } from '../web/index.js'
import { PAGE_CSS, PAGE_HEADERS, pageHtml, pageScript } from './web-page-assets.js'

/** Where the handler is mounted. */
export const WEB_API_BASE = '/api/codex'

/** A running web server. */
export interface RunningWebServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly close: () => Promise<void>
}

/** Options of {@link startWebServer}. */
export interface StartWebServerOptions {
  /** The handler's options (its `basePath` is set here). */
  readonly handler: CodexHandlerOptions
  /** Origins the page's sign-in popup may open (the issuer's). */
  readonly loginOrigins: readonly string[]
  readonly host: string
  readonly port: number
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...PAGE_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

/**
 * Starts the server.
 * @example
 * const web = await startWebServer({ handler: { cookieSecret }, loginOrigins: [issuer], host: '127.0.0.1', port: 0 })
 */
export async function startWebServer(options: StartWebServerOptions): Promise<RunningWebServer> {
  const api = createCodexNodeListener({ ...options.handler, basePath: WEB_API_BASE })
  const html = pageHtml({ apiBase: WEB_API_BASE, loginOrigins: options.loginOrigins })
  const script = pageScript()
  let allowedHosts: ReadonlySet<string> = new Set()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? ''
    if (path === WEB_API_BASE || path.startsWith(`${WEB_API_BASE}/`)) {
      api(req, res)
      return
    }
    if (!allowedHosts.has(req.headers.host ?? '')) {
      send(res, 403, 'text/plain; charset=utf-8', 'This host is not allowed.\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed.\n')
      return
    }
    if (path === '/') send(res, 200, 'text/html; charset=utf-8', html)
    else if (path === '/app.js') send(res, 200, 'text/javascript; charset=utf-8', script)
    else if (path === '/app.css') send(res, 200, 'text/css; charset=utf-8', PAGE_CSS)
    else send(res, 404, 'text/plain; charset=utf-8', 'Not found.\n')
  })
  server.listen(options.port, options.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  allowedHosts = new Set([`${host}:${port}`, `localhost:${port}`])
  const url = `http://${host}:${port}`
  return {
    url,
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
      await api.close()
    },
  }
}
