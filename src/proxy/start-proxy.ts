/**
 * `startProxy(options)`: the hardened local Responses proxy (DESIGN.md "The proxy", SECURITY.md C2). A `node:http`
 * server on 127.0.0.1 (another address only with `allowNonLoopback`, never a wildcard), a fresh 256-bit token per
 * launch, optionally written to a 0600 server-info file, every request through the gates before routing, Node's
 * header and request timeouts (which cover receiving the request, never a long streamed answer) and its strict
 * HTTP parser.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { BrokerError, createLogger, type Logger, type Secret } from '../lib/index.js'
import { serveChatCompletions } from './chat-completions-route.js'
import { createExchangeDumper, type ExchangeDumper } from './exchange-dump.js'
import {
  hostGate,
  listenerHosts,
  originGate,
  runGates,
  tooLarge,
  type GateConfig,
} from './gates.js'
import { overloaded, refusalForError, sendRefusal } from './proxy-error.js'
import { createProxyToken } from './proxy-token.js'
import { listModels, type ProxyUpstream } from './proxy-upstream.js'
import { readBody } from './read-body.js'
import { serveResponses } from './responses-route.js'
import type { ProxyRoute } from './routes.js'
import { removeServerInfo, writeServerInfo } from './server-info.js'

/** Options of {@link startProxy}. */
export interface StartProxyOptions {
  readonly upstream: ProxyUpstream
  /** Default 0 (an ephemeral port). */
  readonly port?: number
  /** Default `127.0.0.1`; anything but `127.0.0.1`/`::1` needs `allowNonLoopback`; `0.0.0.0`/`::` never. */
  readonly host?: string
  /** Allows a non-loopback `host` (the token is still required; a warning is logged). */
  readonly allowNonLoopback?: boolean
  /**
   * Writes `{"port","pid","auth_token"}` there (0600, never through a symlink, never over a file others can
   * read); removed again on a clean stop.
   */
  readonly serverInfoPath?: string
  /** Writes redacted request/response dumps there (0700 directory, 0600 files). */
  readonly dumpDir?: string
  /** Requests served at once; above it a request gets 503 `overloaded` at once. Default 4,096. */
  readonly maxConcurrentRequests?: number
  /** Open connections; above it Node closes new sockets as they arrive. Default 8,192. */
  readonly maxConnections?: number
  /** Default 10 MiB. */
  readonly maxBodyBytes?: number
  /** Serves `POST /shutdown` (token required). */
  readonly httpShutdown?: boolean
  readonly logger?: Logger
  /** Time to receive a request's headers; default 10 s (then 408). */
  readonly headersTimeoutMs?: number
  /**
   * Time to receive a whole request, body included; default 60 s (then 408). It covers receiving only: a long
   * streamed answer is never cut by it.
   */
  readonly requestTimeoutMs?: number
}

/** A running proxy. */
export interface RunningProxy {
  readonly port: number
  /** e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  /** The capability token callers present in `X-Proxy-Token` or `Authorization: Bearer`. */
  readonly token: Secret
  /** Resolves once the proxy has stopped (`close()` or `POST /shutdown`). */
  readonly closed: Promise<void>
  /** Stops listening and ends every open connection. */
  close(): Promise<void>
}

/** The default body limit: 10 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
/** The default cap on requests served at once (each may hold a long stream). */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 4_096
/** The default cap on open connections, idle keep-alive ones included. */
export const DEFAULT_MAX_CONNECTIONS = 8_192
const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 60_000
const LOOPBACK = new Set(['127.0.0.1', '::1'])
const WILDCARD = new Set(['0.0.0.0', '::', '', '*'])

/**
 * Starts the proxy.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a refused bind address; `ERR_UNSAFE_FILE` for an unsafe
 * server-info path; `ERR_UNSAFE_HOME` for an unsafe dump directory; `ERR_PORT_IN_USE` when the port is taken.
 * @example
 * const proxy = await startProxy({ upstream: { kind: 'chatgpt', tokens, accountId, backend } })
 * await fetch(`${proxy.url}/v1/responses`, { method: 'POST', headers: { 'x-proxy-token': proxy.token.reveal(), 'content-type': 'application/json' }, body })
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  const host = options.host ?? '127.0.0.1'
  if (WILDCARD.has(host)) {
    throw new BrokerError('ERR_INVALID_CONFIG', 'The proxy never binds a wildcard address.')
  }
  if (!LOOPBACK.has(host) && options.allowNonLoopback !== true) {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      'The proxy binds loopback only; another address needs allowNonLoopback (--allow-non-loopback).',
    )
  }
  const logger = options.logger ?? createLogger({ level: 'silent' })
  const token = createProxyToken()
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS
  const server = createServer({
    headersTimeout,
    requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    // Check the timeouts often enough that they bite close to their value (Node's default is every 30 s).
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 2))),
    insecureHTTPParser: false,
  })
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const maxConcurrentRequests = options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS
  let inFlight = 0
  const port = await listen(server, options.port ?? 0, host)
  const authority = host.includes(':') ? `[${host}]:${String(port)}` : `${host}:${String(port)}`
  const allowedHosts = listenerHosts(host, port)
  const gates: GateConfig = {
    allowedHosts,
    token,
    maxBodyBytes,
    shutdownEnabled: options.httpShutdown === true,
  }

  let dumper: ExchangeDumper | null = null
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => {
        resolve()
      })
      server.closeAllConnections()
    }).then(async () => {
      await dumper?.settled()
      if (options.serverInfoPath !== undefined) {
        await removeServerInfo(options.serverInfoPath, token)
      }
    })
    return closing
  }
  let resolveClosed: () => void = () => undefined
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve
  })
  server.on('close', resolveClosed)

  // CONNECT and Upgrade (websocket, h2c) are never served (SECURITY.md PX-05, PX-06); a browser's WebSocket gets
  // the same 403 as its other requests, since the Host and Origin gates run first.
  server.on(
    'connect',
    refuseSocket(() => 405),
  )
  server.on(
    'upgrade',
    refuseSocket((req) => {
      const gate = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
      }
      return (hostGate(gate, allowedHosts) ?? originGate(req.headers))?.status ?? 400
    }),
  )
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const result = runGates(
      {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
      },
      gates,
    )
    if (!result.ok) {
      sendRefusal(res, result.refusal, true)
      return
    }
    if (inFlight >= maxConcurrentRequests) {
      sendRefusal(res, overloaded(maxConcurrentRequests), true)
      return
    }
    inFlight += 1
    res.once('close', () => {
      inFlight -= 1
    })
    serve(result.route, req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'proxy: request failed')
      sendRefusal(res, refusalForError(error))
    })
  })

  async function serve(
    route: ProxyRoute,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    switch (route) {
      case 'healthz':
        res.writeHead(204, { 'cache-control': 'no-store' }).end()
        return
      case 'shutdown':
        res.on('finish', () => void close())
        res.writeHead(202, { 'cache-control': 'no-store', connection: 'close' }).end()
        return
      case 'models': {
        const controller = new AbortController()
        res.on('close', () => {
          controller.abort()
        })
        const data = await listModels(options.upstream, controller.signal)
        const text = JSON.stringify({ object: 'list', data })
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(text)
        return
      }
      case 'responses':
      case 'chat_completions': {
        const read = await readBody(req, maxBodyBytes)
        if (!read.ok) {
          if (read.reason === 'too_large') sendRefusal(res, tooLarge(maxBodyBytes), true)
          return
        }
        dumper?.record(req, read.body, res)
        const session = req.headers['session-id']
        const context = {
          upstream: options.upstream,
          logger,
          sessionId: typeof session === 'string' ? session : null,
        }
        await (route === 'responses'
          ? serveResponses(res, read.body, context)
          : serveChatCompletions(res, read.body, context))
        return
      }
    }
  }

  if (!LOOPBACK.has(host)) {
    logger.warn(
      `proxy: listening on ${authority}, NOT loopback only; every request still needs the token`,
    )
  }
  try {
    if (options.dumpDir !== undefined) {
      dumper = await createExchangeDumper(options.dumpDir, { token, logger })
    }
    if (options.serverInfoPath !== undefined) {
      await writeServerInfo(options.serverInfoPath, { port, pid: process.pid, token })
    }
  } catch (error) {
    // close() removes the server-info file only if it holds this launch's token, so a refused file stays.
    await close()
    throw error
  }
  return { port, url: `http://${authority}`, token, closed, close }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
}

/** Answers a bare status on a socket Node handed over (CONNECT, Upgrade) and closes it. */
function refuseSocket(
  statusFor: (req: IncomingMessage) => number,
): (req: IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    socket.on('error', () => undefined)
    const status = statusFor(req)
    socket.end(
      `HTTP/1.1 ${String(status)} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\ncontent-length: 0\r\ncache-control: no-store\r\nconnection: close\r\n\r\n`,
    )
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new BrokerError('ERR_PORT_IN_USE', `Port ${String(port)} is already in use.`, {
              cause: error,
            })
          : error,
      )
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
