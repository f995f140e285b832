/**
 * The JSON-RPC errors the app-server answers with: the five of JSON-RPC 2.0 §5.1, the official app-server's
 * `-32001 Server overloaded; retry later.`, a not-initialized refusal and a cancelled request. Method handlers
 * throw {@link RpcError}; anything else they throw becomes `-32603` with a public, token-free message at the edge.
 * @see https://www.jsonrpc.org/specification#error_object
 */

/** The error codes the app-server uses. */
export const RPC_ERROR_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** The per-connection queue is full (the official app-server's code and message). */
  overloaded: -32001,
  /** A method other than `initialize` before `initialize`. */
  notInitialized: -32002,
  /** The method failed for a reason the caller can act on (not signed in, pool exhausted, upstream refused). */
  serverError: -32000,
  /** `responses/cancel` (or the connection closing) ended the request (the LSP code). */
  requestCancelled: -32800,
} as const

/** One of {@link RPC_ERROR_CODES}. */
export type RpcErrorCode = (typeof RPC_ERROR_CODES)[keyof typeof RPC_ERROR_CODES]

/** The message of the overloaded answer, word for word as the official app-server sends it. */
export const OVERLOADED_MESSAGE = 'Server overloaded; retry later.'

/**
 * An error a method handler throws to answer with a JSON-RPC error object. `data` goes to the client as is, so it
 * must never hold a secret.
 * @example
 * throw new RpcError(RPC_ERROR_CODES.invalidParams, 'Invalid params: type must be "chatgpt" or "chatgptDeviceCode".')
 */
export class RpcError extends Error {
  override readonly name = 'RpcError'
  readonly code: RpcErrorCode
  readonly data: unknown

  constructor(code: RpcErrorCode, message: string, data?: unknown) {
    super(message)
    this.code = code
    this.data = data
  }
}
