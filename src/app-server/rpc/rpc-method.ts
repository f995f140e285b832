/**
 * The contract between the app-server's connection handling and its methods: a method gets its params (already
 * known to be an object, an array or absent) and a context for the connection that called it, and resolves with
 * the result or throws an {@link RpcError}.
 */

/** A JSON-RPC request id (never null for a request the server answers). */
export type RpcId = string | number

/** What a method handler can do besides answering. */
export interface RpcContext {
  /** Stable for the connection's life; for logs only, never sent. */
  readonly connectionId: string
  /** The id of the request being handled. */
  readonly requestId: RpcId
  /** Aborted when the connection closes (or, for `responses/create`, when `responses/cancel` names it). */
  readonly signal: AbortSignal
  /**
   * Sends a notification to this connection. Resolves once the frame is queued and the socket's send buffer is
   * below its high-water mark (backpressure for streams); resolves at once, sending nothing, after the connection
   * closed. Never rejects.
   */
  notify(method: string, params: unknown): Promise<void>
  /**
   * Sends a notification to every open, initialized connection of this server. Stays valid after the call
   * returned (a sign-in completes later). Never throws.
   */
  broadcast(method: string, params: unknown): void
}

/** One method of the app-server. */
export interface RpcMethod {
  /** Whether the connection must have called `initialize` first (default true; false only for `initialize`). */
  readonly requiresInitialize?: boolean
  /** Answers one call. `params` is what the client sent: an object, an array, or undefined. */
  handle(params: unknown, context: RpcContext): Promise<unknown>
}

/** The methods a server serves, by name. */
export type RpcMethods = ReadonlyMap<string, RpcMethod>
