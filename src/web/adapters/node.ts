/**
 * `codex-broker/node`: the web handler as a `node:http` request listener. The request is handed to the handler's
 * dispatcher as a plain object — its URL from the socket's scheme and the `Host` header (which the handler then
 * checks against its allowlist), its headers read from node's, its body read into memory first, up to a bound —
 * without building Fetch `Request`/`Response` objects, which would cost more than the rest of a small request.
 * The answer is written in one piece, or — a run's NDJSON — streamed with backpressure and cancelled as soon as the
 * client goes away, which aborts the run's upstream request. A raw path with dot segments (`/x/../logout`, also
 * percent-encoded) is refused with 400 before anything could normalise it into another route. `toNodeListener`
 * adapts any other Fetch handler the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { openCodexDispatch } from '../codex-handler.js'
import type { CodexDispatch } from '../codex-dispatch.js'
import type { CodexHandlerOptions } from '../handler-options.js'
import type { WebAnswer, WebRequest } from '../web-answer.js'

/** A `node:http` listener. */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The largest request body the adapter reads into memory (the handler's own limits are far smaller; this only
 * bounds what a client can make the adapter hold before the handler sees the request).
 */
export const MAX_ADAPTER_BODY_BYTES = 16 * 1024 * 1024

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
 * Reads a request body into memory; null when it is larger than `limit`.
 * @example
 * const body = await readBody(req, MAX_ADAPTER_BODY_BYTES)
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return null
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return null
    chunks.push(chunk)
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)
}

/** The absolute URL of a node request; null for a target or Host that cannot make one. */
function urlOf(req: IncomingMessage): string | null {
  const target = req.url ?? ''
  const host = req.headers.host
  if (!target.startsWith('/') || host === undefined || host === '') return null
  if (DOT_SEGMENT.test(target.split('?')[0] ?? '')) return null
  if (/[\s/\\?#@]/.test(host)) return null
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http'
  return `${scheme}://${host}${target}`
}

/**
 * The handler's view of a node request (headers as node parsed them; `bufferedBody` already read).
 * @example
 * const request = toWebRequest(req, body)
 */
export function toWebRequest(req: IncomingMessage, bufferedBody?: Uint8Array): WebRequest | null {
  const url = urlOf(req)
  if (url === null) return null
  const { headers } = req
  return {
    method: req.method ?? 'GET',
    url,
    headers: {
      get(name) {
        const value = headers[name.toLowerCase()]
        if (value === undefined) return null
        return Array.isArray(value) ? value.join(', ') : value
      },
    },
    body: null,
    ...(bufferedBody === undefined ? {} : { bufferedBody }),
  }
}

/** Streams `body` to `res` with backpressure; cancels it as soon as the client is gone. */
async function pipeBody(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader()
  const onClose = (): void => {
    reader.cancel().catch(() => undefined)
  }
  res.once('close', onClose)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) {
        await reader.cancel().catch(() => undefined)
        return
      }
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
 * Writes an answer: text in one piece with its length, a stream as it comes.
 * @example
 * await writeAnswer(await dispatch(request), res)
 */
export async function writeAnswer(answer: WebAnswer, res: ServerResponse): Promise<void> {
  const { body } = answer
  if (res.destroyed) {
    // The client left while the answer was being made: drop it (for a run, this aborts the upstream).
    if (body !== null && typeof body !== 'string') await body.cancel().catch(() => undefined)
    return
  }
  if (body === null || typeof body === 'string') {
    const text = body ?? ''
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(text) })
    res.end(text)
    return
  }
  res.writeHead(answer.status, answer.headers)
  await pipeBody(body, res)
}

/**
 * Writes a Fetch `Response` (for {@link toNodeListener}): headers as sent, the body streamed.
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
  if (res.destroyed) {
    await response.body?.cancel().catch(() => undefined)
    return
  }
  res.writeHead(response.status, headers)
  if (response.body === null) res.end()
  else await pipeBody(response.body as ReadableStream<Uint8Array>, res)
}

/** Reads the body of a request that has one; null (after answering 413) when it is too large. */
async function bodyFor(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Uint8Array | undefined | null> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined
  const body = await readBody(req, MAX_ADAPTER_BODY_BYTES)
  if (body === null) plainError(res, 413, 'payload_too_large', 'The request body is too large.')
  return body
}

function badTarget(res: ServerResponse): void {
  plainError(res, 400, 'bad_request', 'The request target or Host header is not valid.')
}

function failed(res: ServerResponse): void {
  if (!res.headersSent) plainError(res, 500, 'internal', 'Internal error')
  else res.destroy()
}

/**
 * The listener of a dispatcher; `preread` gives a body something else already read (Express's body parsers).
 * @example
 * createServer(nodeListenerOf(dispatch))
 */
export function nodeListenerOf(
  dispatch: CodexDispatch,
  preread?: (req: IncomingMessage) => Uint8Array | undefined,
): NodeRequestListener {
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = preread?.(req) ?? (await bodyFor(req, res))
    if (body === null) return
    const request = toWebRequest(req, body)
    if (request === null) {
      badTarget(res)
      return
    }
    await writeAnswer(await dispatch(request), res)
  }
  return (req, res) => {
    serve(req, res).catch(() => {
      failed(res)
    })
  }
}

/**
 * Adapts any Fetch handler to `node:http` (its body read first, like the web handler's).
 * @example
 * createServer(toNodeListener(handler)).listen(3000, '127.0.0.1')
 */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
): NodeRequestListener {
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await bodyFor(req, res)
    if (body === null) return
    const url = urlOf(req)
    if (url === null) {
      badTarget(res)
      return
    }
    const headers = new Headers()
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '')
    }
    const init: RequestInit = { method: req.method ?? 'GET', headers }
    if (body !== undefined) init.body = body
    await writeFetchResponse(await handler(new Request(url, init)), res)
  }
  return (req, res) => {
    serve(req, res).catch(() => {
      failed(res)
    })
  }
}

/** A node listener with the handler's `close`. */
export type CodexNodeListener = NodeRequestListener & { readonly close: () => Promise<void> }

/**
 * The web handler as a `node:http` listener.
 * @example
 * import { createServer } from 'node:http'
 * import { createCodexNodeListener } from 'codex-broker/node'
 * const listener = createCodexNodeListener({ cookieSecret, basePath: '/api/codex' })
 * createServer(listener).listen(3000, '127.0.0.1')
 */
export function createCodexNodeListener(options: CodexHandlerOptions): CodexNodeListener {
  const { dispatch, close } = openCodexDispatch(options)
  return Object.assign(nodeListenerOf(dispatch), { close })
}
