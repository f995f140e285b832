/**
 * The options and handle of {@link startAppServer}: where it listens, how upgrades are authenticated, which
 * methods it serves, and the limits that keep one client from starving the others (SECURITY.md C3.13).
 */
import type { Logger } from '../../lib/index.js'
import type { WsAuthMode } from '../auth/index.js'
import type { RpcMethods } from '../rpc/rpc-method.js'

/** Options of `startAppServer`. */
export interface StartAppServerOptions {
  /** The methods served (see `createAppServerMethods`). */
  readonly methods: RpcMethods
  /** How upgrades are authenticated. `none` is refused on a non-loopback host. */
  readonly auth: WsAuthMode
  /** Default `127.0.0.1`. A wildcard address is refused; a non-loopback one needs auth. */
  readonly host?: string
  /** Default 0 (an ephemeral port). */
  readonly port?: number
  /** Largest accepted frame; a bigger one closes the connection with 1009. Default 1 MiB. */
  readonly maxPayloadBytes?: number
  /** Requests of one connection in flight at once; above it `-32001`. Default 64. */
  readonly maxQueuedRequests?: number
  /** Open WebSocket connections; above it the upgrade gets 503. Default 1,024. */
  readonly maxConnections?: number
  /** Time for a client to send a complete upgrade request; default 10 s. */
  readonly handshakeTimeoutMs?: number
  /** Failed authentications per client address in `authFailureWindowMs` before 429. Default 20. */
  readonly maxAuthFailures?: number
  /** Default 10 s. */
  readonly authFailureWindowMs?: number
  readonly logger?: Logger
}

/** A running app-server. */
export interface RunningAppServer {
  readonly port: number
  /** e.g. `ws://127.0.0.1:4500`. */
  readonly url: string
  /** Open, authenticated WebSocket connections. */
  readonly connections: () => number
  /** Sends a notification to every open, initialized connection. */
  broadcast(method: string, params: unknown): void
  /** Resolves once the server has stopped. */
  readonly closed: Promise<void>
  /** Stops listening, closes every connection (1001) and aborts what they had in flight. */
  close(): Promise<void>
}
