/**
 * `codex-broker/node`: the web handler as a `node:http` request listener. The request becomes a Fetch `Request`
 * (its URL from the socket's scheme and the `Host` header — which the handler then checks against its allowlist —
 * its body streamed, its signal aborted when the client goes away, so a run's upstream request stops at once);
 * the `Response` is written back with backpressure. A raw path with dot segments (`/x/../logout`, also
 * percent-encoded) is refused with 400 before the URL parser could normalise it into another route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { createCodexHandler, type CodexHandler } from '../codex-handler.js'
import type { CodexHandlerOptions } from '../handler-options.js'

/** A request body the adapter can hand to `Request`. */
export type FetchBody = string | ReadableStream<Uint8Array>

/** A `node:http` listener. */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => void

const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i

function plainError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } })
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/**
 * The Fetch `Request` for a node request; null when its target or Host cannot make a URL.
 * @example
 * const request = toFetchRequest(req, controller.signal)
 */
export function toFetchRequest(
  req: IncomingMessage,
  signal: AbortSignal,
  body?: FetchBody,
): Request | null {
  const target = req.url ?? ''
  const host = req.headers.host
  if (
    !target.startsWith('/') ||
    host === undefined ||
    DOT_SEGMENT.test(target.split('?')[0] ?? '')
  ) {
    return null
  }
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http'
  let url: URL
  try {
    url = new URL(`${scheme}://${host}${target}`)
  } catch {
    return null
  }
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? ''
    if (name.startsWith(':')) continue
    try {
      headers.append(name, req.rawHeaders[i + 1] ?? '')
    } catch {
      return null
    }
  }
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal }
  if (hasBody) {
    init.body = body ?? (Readable.toWeb(req) as ReadableStream<Uint8Array>)
    init.duplex = 'half'
  }
  return new Request(url, init)
}

/**
 * Writes a Fetch `Response` to a node response, honouring backpressure; stops reading the body if the client left.
 * @example
 * await writeFetchResponse(await handler(request), res)
 */
export async function writeFetchResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  res.writeHead(response.status, headers)
  if (response.body === null) {
    res.end()
    return
  }
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const onClose = (): void => {
    reader.cancel().catch(() => undefined)
  }
  res.once('close', onClose)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) return
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const resume = (): void => {
            res.off('drain', resume)
            res.off('close', resume)
            resolve()
          }
          res.on('drain', resume)
          res.on('close', resume)
        })
      }
    }
    res.end()
  } catch {
    res.destroy()
  } finally {
    res.off('close', onClose)
  }
}

/**
 * Adapts any Fetch handler to `node:http`.
 * @example
 * createServer(toNodeListener(handler)).listen(3000, '127.0.0.1')
 */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
  body?: (req: IncomingMessage) => FetchBody | undefined,
): NodeRequestListener {
  return (req, res) => {
    const controller = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('The client went away.'))
    })
    const request = toFetchRequest(req, controller.signal, body?.(req))
    if (request === null) {
      plainError(res, 400, 'bad_request', 'The request target or Host header is not valid.')
      return
    }
    handler(request)
      .then((response) => writeFetchResponse(response, res))
      .catch(() => {
        if (!res.headersSent) plainError(res, 500, 'internal', 'Internal error')
        else res.destroy()
      })
  }
}

/** A node listener with the handler's `close`. */
export type CodexNodeListener = NodeRequestListener & {
  readonly handler: CodexHandler
  readonly close: () => Promise<void>
}

/**
 * The web handler as a `node:http` listener.
 * @example
 * import { createServer } from 'node:http'
 * import { createCodexNodeListener } from 'codex-broker/node'
 * const listener = createCodexNodeListener({ cookieSecret, basePath: '/api/codex' })
 * createServer(listener).listen(3000, '127.0.0.1')
 */
export function createCodexNodeListener(options: CodexHandlerOptions): CodexNodeListener {
  const handler = createCodexHandler(options)
  return Object.assign(toNodeListener(handler), { handler, close: handler.close })
}
