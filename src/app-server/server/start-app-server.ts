/**
 * `startAppServer(options)`: the WebSocket JSON-RPC app-server (DESIGN.md "The app-server", PROTOCOL.md §10,
 * SECURITY.md C3). A `node:http` server on 127.0.0.1 by default (never a wildcard; another address only with
 * authentication) and a `ws` server without its own listener. Every request and upgrade passes, in order: no
 * `Origin` (403, before anything else), exactly one Host equal to the bound address (400/403), then plain HTTP gets
 * `GET /healthz` and `GET /readyz` (200, empty) or 404, and an upgrade gets the handshake shape checks (400/426),
 * the connection cap (503), authentication of the `Authorization` header only (401, or 429 for an address over its
 * failure budget) and only then the WebSocket. Node's header timeout bounds the time to send the upgrade.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { BrokerError, createLogger, isErrorLike, serializeError } from '../../lib/index.js'
import { hostGate, listenerHosts } from '../../proxy/gates.js'
import { authenticateUpgrade } from '../auth/index.js'
import { RpcConnection } from '../rpc/rpc-connection.js'
import type { RunningAppServer, StartAppServerOptions } from './app-server-options.js'
import { AuthThrottle } from './auth-throttle.js'
import { refuseUpgrade, type UpgradeRefusal, upgradeShapeRefusal } from './upgrade-refusal.js'

/** Default largest frame: 1 MiB (ws's own default is 100 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
/** Default requests in flight per connection. */
export const DEFAULT_MAX_QUEUED_REQUESTS = 64
/** Default open WebSocket connections. */
export const DEFAULT_MAX_CONNECTIONS = 1_024
/** Default time to send a complete upgrade request. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000
/** Default failed authentications per address in the window before 429. */
export const DEFAULT_MAX_AUTH_FAILURES = 20
/** Default window of the authentication throttle. */
export const DEFAULT_AUTH_FAILURE_WINDOW_MS = 10_000
/** Time `close()` gives clients to answer the 1001 close frame before their sockets are dropped. */
const CLOSE_GRACE_MS = 1_000
/** TCP connections allowed beyond the WebSocket cap: handshakes in progress and health probes. */
const HANDSHAKE_HEADROOM = 256
const WILDCARD = new Set(['0.0.0.0', '::', '', '*', '[::]'])
const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/

function isLoopback(host: string): boolean {
  return host === '::1' || IPV4_LOOPBACK.test(host)
}

/** Any `Origin` (or the `Sec-WebSocket-Origin` of version-8 clients), even an empty one, marks a browser. */
function hasOrigin(rawHeaders: readonly string[]): boolean {
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]?.toLowerCase()
    if (name === 'origin' || name === 'sec-websocket-origin') return true
  }
  return false
}

/**
 * Starts the app-server.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for a wildcard address or a non-loopback one without authentication;
 * `ERR_PORT_IN_USE` when the port is taken.
 * @example
 * const server = await startAppServer({ methods, auth: { kind: 'capability', verifier } })
 * const ws = new WebSocket(server.url, { headers: { authorization: `Bearer ${token}` } })
 * @see https://www.rfc-editor.org/rfc/rfc6455
 */
export async function startAppServer(options: StartAppServerOptions): Promise<RunningAppServer> {
  const host = options.host ?? '127.0.0.1'
  if (WILDCARD.has(host)) {
    throw new BrokerError('ERR_INVALID_CONFIG', 'The app-server never binds a wildcard address.')
  }
  if (!isLoopback(host) && options.auth.kind === 'none') {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      'A non-loopback listener needs --ws-auth capability-token or --ws-auth signed-bearer-token.',
    )
  }
  const logger = options.logger ?? createLogger({ level: 'silent' })
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const maxQueuedRequests = options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS
  const handshakeTimeout = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  const throttle = new AuthThrottle({
    maxFailures: options.maxAuthFailures ?? DEFAULT_MAX_AUTH_FAILURES,
    windowMs: options.authFailureWindowMs ?? DEFAULT_AUTH_FAILURE_WINDOW_MS,
  })
  const server = createServer({
    // An upgrade is an ordinary request until its headers are complete, so these bound the handshake too; an
    // upgraded socket leaves Node's HTTP bookkeeping and is never cut by them.
    headersTimeout: handshakeTimeout,
    requestTimeout: handshakeTimeout,
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(handshakeTimeout / 4))),
    insecureHTTPParser: false,
  })
  // Upgraded sockets stay counted by the listener, so this bounds half-open handshakes as well (Node closes a
  // socket over the limit as it arrives).
  server.maxConnections = maxConnections + HANDSHAKE_HEADROOM
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
    // No subprotocol is ever selected, so nothing a client put there (a token, say) is echoed back.
    handleProtocols: () => false,
  })
  const connections = new Set<RpcConnection>()
  let pendingUpgrades = 0
  let closing: Promise<void> | null = null
  const isClosing = (): boolean => closing !== null

  const port = await listen(server, options.port ?? 0, host)
  const allowedHosts = listenerHosts(host, port)
  const authority = allowedHosts[0] ?? `${host}:${String(port)}`

  const broadcast = (method: string, params: unknown): void => {
    let text: string
    try {
      text = JSON.stringify(
        params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params },
      )
    } catch (error) {
      logger.error(
        { err: isErrorLike(error) ? serializeError(error) : { type: typeof error } },
        'app-server: broadcast not serializable',
      )
      return
    }
    for (const connection of connections) {
      if (connection.initialized) connection.sendText(text)
    }
  }

  /** Origin, then Host: the refusal of both plain requests and upgrades. */
  const gateRefusal = (req: IncomingMessage): UpgradeRefusal | null => {
    if (hasOrigin(req.rawHeaders)) return { status: 403, body: 'browser requests are not allowed' }
    const refused = hostGate(
      {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
      },
      allowedHosts,
    )
    if (refused === null) return null
    return {
      status: refused.status,
      body: refused.status === 403 ? `host not allowed; use ${authority}` : refused.message,
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const refused = gateRefusal(req)
    if (refused !== null) {
      sendPlain(res, refused.status, refused.body)
      return
    }
    const readable = req.method === 'GET' || req.method === 'HEAD'
    if (readable && req.url === '/healthz') {
      sendPlain(res, 200, '')
    } else if (readable && req.url === '/readyz') {
      sendPlain(res, closing === null ? 200 : 503, '')
    } else {
      sendPlain(res, 404, 'not found')
    }
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined)
    upgrade(req, socket, head).catch((error: unknown) => {
      logger.error(
        { err: isErrorLike(error) ? serializeError(error) : { type: typeof error } },
        'app-server: upgrade failed',
      )
      refuseUpgrade(socket, { status: 500, body: 'internal error' })
    })
  })

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const early = gateRefusal(req) ?? upgradeShapeRefusal(req)
    if (early !== null) {
      refuseUpgrade(socket, early)
      return
    }
    if (closing !== null || connections.size + pendingUpgrades >= maxConnections) {
      refuseUpgrade(socket, { status: 503, body: 'too many connections' })
      return
    }
    pendingUpgrades += 1
    let result: Awaited<ReturnType<typeof authenticateUpgrade>>
    try {
      // Only the Authorization header is read: never the query string nor Sec-WebSocket-Protocol (C3.12).
      result = await authenticateUpgrade(req.headers, options.auth, req.rawHeaders)
    } finally {
      pendingUpgrades -= 1
    }
    if (!result.ok) {
      const retryAfter = throttle.recordFailure(req.socket.remoteAddress ?? 'unknown')
      refuseUpgrade(
        socket,
        retryAfter === null
          ? { status: result.status, body: result.reason }
          : {
              status: 429,
              body: 'too many failed authentications',
              headers: { 'Retry-After': String(retryAfter) },
            },
      )
      return
    }
    if (isClosing() || socket.destroyed) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new RpcConnection(ws, {
        connectionId: randomUUID(),
        methods: options.methods,
        maxQueuedRequests,
        logger,
        broadcast,
      })
      connections.add(connection)
      void connection.closed.then(() => {
        connections.delete(connection)
      })
      if (closing !== null) connection.close(1001, 'server shutting down')
    })
  }

  let resolveClosed: () => void = () => undefined
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve
  })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
      server.closeAllConnections()
      const open = [...connections]
      for (const connection of open) connection.close(1001, 'server shutting down')
      let timer: NodeJS.Timeout | undefined
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS)
      })
      await Promise.race([Promise.all(open.map((connection) => connection.closed)), grace])
      clearTimeout(timer)
      for (const connection of connections) connection.terminate()
      await stopped
      wss.close()
      resolveClosed()
    })()
    return closing
  }

  if (!isLoopback(host)) {
    logger.warn(
      `app-server: listening on ${authority}, NOT loopback only; every upgrade still needs authentication`,
    )
  }
  return {
    port,
    url: `ws://${authority}`,
    connections: () => connections.size,
    broadcast,
    closed,
    close,
  }
}

/** A plain-text answer with `Connection: close` (an empty body for the health routes). */
function sendPlain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    connection: 'close',
  })
  res.end(body)
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
