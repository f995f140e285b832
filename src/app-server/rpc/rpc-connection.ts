/**
 * One authenticated WebSocket connection of the app-server and its JSON-RPC dispatch: text frames only (a binary
 * frame closes with 1003), each frame a request, a notification or a batch, answered on this connection only
 * (SECURITY.md WS-12). It enforces `initialize` first (and once), unique ids among the requests in flight and the
 * per-connection cap on work in flight (`-32001`, the official app-server's answer). A handler's {@link RpcError}
 * becomes its JSON-RPC error; anything else a handler throws is logged (through `serializeError`) and answered
 * `-32603 Internal error`, never with its message, which may hold a secret. Closing the connection aborts the
 * `signal` of everything in flight, and a send on a closed socket is a no-op, never a throw.
 */
import WebSocket from 'ws'
import { isErrorLike, type Logger, serializeError } from '../../lib/index.js'
import {
  errorResponse,
  type JsonRpcResponse,
  quoteMethodName,
  readFrame,
  resultResponse,
  validateEntry,
} from './json-rpc-message.js'
import { OVERLOADED_MESSAGE, RPC_ERROR_CODES, RpcError } from './rpc-error.js'
import type { RpcContext, RpcId, RpcMethods } from './rpc-method.js'

/** The `bufferedAmount` above which `notify` waits before resolving: 1 MiB. */
export const NOTIFY_HIGH_WATER_MARK = 1024 * 1024
const DRAIN_POLL_MS = 10
const INITIALIZE = 'initialize'

/** What a connection needs from its server. */
export interface RpcConnectionOptions {
  /** For logs only, never sent. */
  readonly connectionId: string
  readonly methods: RpcMethods
  /** Requests and notifications of this connection running at once; above it `-32001` (or dropped). */
  readonly maxQueuedRequests: number
  readonly logger: Logger
  /** Sends a notification to every open, initialized connection of the server. */
  readonly broadcast: (method: string, params: unknown) => void
  /** Default {@link NOTIFY_HIGH_WATER_MARK}. */
  readonly highWaterMark?: number
}

type InitState = 'new' | 'initializing' | 'ready'

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

function idKey(id: RpcId): string {
  return `${typeof id}:${String(id)}`
}

/**
 * An abort controller made only when a handler asks for its signal: most calls (`account/read`, …) never do, and
 * creating the signal was 6 % of a call's cost. An abort before that is kept and applied at creation.
 */
class LazyAbort {
  #controller: AbortController | null = null
  #reason: unknown = null
  #aborted = false

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * A connection's dispatcher. The server creates one per accepted WebSocket.
 * @example
 * const connection = new RpcConnection(ws, { connectionId, methods, maxQueuedRequests: 64, logger, broadcast })
 * connection.sendNotification('account/updated', { accountId })
 * @see https://www.jsonrpc.org/specification
 */
export class RpcConnection {
  readonly connectionId: string
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>
  readonly #socket: WebSocket
  readonly #options: RpcConnectionOptions
  readonly #highWaterMark: number
  /** Every request and notification running, for the abort on close. */
  readonly #running = new Set<LazyAbort>()
  /** Ids of the requests running, for the duplicate check. */
  readonly #ids = new Set<string>()
  #state: InitState = 'new'
  #isClosed = false
  #notificationCount = 0

  constructor(socket: WebSocket, options: RpcConnectionOptions) {
    this.connectionId = options.connectionId
    this.#socket = socket
    this.#options = options
    this.#highWaterMark = options.highWaterMark ?? NOTIFY_HIGH_WATER_MARK
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#onClose()
        resolve()
      })
    })
    socket.on('error', (error) => {
      // ws closes the socket itself after a protocol error (1002, 1007, 1009); the log says which.
      options.logger.debug(
        { err: serializeError(error), connectionId: this.connectionId },
        'app-server: socket error',
      )
    })
    socket.on('message', (data, isBinary) => {
      this.#onMessage(data, isBinary)
    })
  }

  /** True once `initialize` has resolved on this connection. */
  get initialized(): boolean {
    return this.#state === 'ready'
  }

  /** True while frames can be sent. */
  get isOpen(): boolean {
    return this.#canSend()
  }

  /** Requests and notifications running now. */
  get inFlight(): number {
    return this.#running.size
  }

  /**
   * Sends a notification and resolves once the send buffer is below the high-water mark (or at once when the
   * connection is closed). Never rejects.
   */
  async notify(method: string, params: unknown): Promise<void> {
    const text = this.#notificationText(method, params)
    if (text === null || !this.isOpen) return
    this.sendText(text)
    while (this.#canSend() && this.#socket.bufferedAmount >= this.#highWaterMark) {
      await delay(DRAIN_POLL_MS)
    }
  }

  /** Sends a notification without waiting for the buffer. Never throws. */
  sendNotification(method: string, params: unknown): void {
    const text = this.#notificationText(method, params)
    if (text !== null) this.sendText(text)
  }

  /** Sends an already serialized frame if the socket is open. Never throws. */
  sendText(text: string): void {
    if (!this.isOpen) return
    try {
      this.#socket.send(text, (error) => {
        if (error !== undefined) {
          this.#options.logger.debug({ connectionId: this.connectionId }, 'app-server: send failed')
        }
      })
    } catch {
      // A socket that closed between the check and the send: nothing to deliver to.
    }
  }

  /** Aborts everything in flight and starts the closing handshake. */
  close(code: number, reason: string): void {
    this.#abortAll()
    try {
      this.#socket.close(code, reason)
    } catch {
      this.#socket.terminate()
    }
  }

  /** Drops the socket without a closing handshake. */
  terminate(): void {
    this.#abortAll()
    this.#socket.terminate()
  }

  #canSend(): boolean {
    return !this.#isClosed && this.#socket.readyState === WebSocket.OPEN
  }

  #notificationText(method: string, params: unknown): string | null {
    try {
      return JSON.stringify(
        params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params },
      )
    } catch (error) {
      this.#logFailure(error, method, 'app-server: notification not serializable')
      return null
    }
  }

  #onClose(): void {
    this.#isClosed = true
    this.#abortAll()
  }

  #abortAll(): void {
    for (const controller of this.#running) {
      controller.abort(new RpcError(RPC_ERROR_CODES.requestCancelled, 'The connection closed.'))
    }
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.close(1003, 'text frames only')
      return
    }
    this.#handleFrame(toBuffer(data).toString('utf8')).catch((error: unknown) => {
      this.#logFailure(error, '(frame)', 'app-server: frame handling failed')
    })
  }

  async #handleFrame(text: string): Promise<void> {
    const frame = readFrame(text)
    switch (frame.kind) {
      case 'refused':
        this.#sendResponses([frame.response], false)
        return
      case 'single': {
        const response = await this.#handleEntry(frame.entry)
        if (response !== null) this.#sendResponses([response], false)
        return
      }
      case 'batch': {
        // map() starts every entry before the first await, so the checks see the whole batch in flight.
        const responses = await Promise.all(frame.entries.map((entry) => this.#handleEntry(entry)))
        const answers = responses.filter((response) => response !== null)
        if (answers.length > 0) this.#sendResponses(answers, true)
        return
      }
    }
  }

  #handleEntry(entry: unknown): Promise<JsonRpcResponse | null> {
    const checked = validateEntry(entry)
    switch (checked.kind) {
      case 'ignored':
        return Promise.resolve(null)
      case 'invalid':
        return Promise.resolve(checked.response)
      case 'call':
        return this.#call(checked.method, checked.params, checked.id)
    }
  }

  /** Runs one call; `id` undefined is a notification, whose outcome is never answered. */
  async #call(
    name: string,
    params: unknown,
    id: RpcId | undefined,
  ): Promise<JsonRpcResponse | null> {
    const answer = (code: number, message: string): JsonRpcResponse | null =>
      id === undefined ? null : errorResponse(id, code, message)
    const method = this.#options.methods.get(name)
    if (method === undefined) {
      return answer(RPC_ERROR_CODES.methodNotFound, `Method not found: ${quoteMethodName(name)}`)
    }
    const isInitialize = name === INITIALIZE
    if (isInitialize && this.#state !== 'new') {
      return answer(RPC_ERROR_CODES.invalidRequest, 'Already initialized.')
    }
    if (method.requiresInitialize !== false && this.#state !== 'ready') {
      return answer(RPC_ERROR_CODES.notInitialized, 'Not initialized: call initialize first.')
    }
    const key = id === undefined ? null : idKey(id)
    if (key !== null && this.#ids.has(key)) {
      return answer(RPC_ERROR_CODES.invalidRequest, 'Duplicate request id.')
    }
    if (this.#running.size >= this.#options.maxQueuedRequests) {
      if (id === undefined) {
        this.#options.logger.debug(
          { connectionId: this.connectionId },
          'app-server: notification dropped, overloaded',
        )
      }
      return answer(RPC_ERROR_CODES.overloaded, OVERLOADED_MESSAGE)
    }
    if (this.#isClosed) return null

    const controller = new LazyAbort()
    this.#running.add(controller)
    if (key !== null) this.#ids.add(key)
    if (isInitialize) this.#state = 'initializing'
    this.#notificationCount += id === undefined ? 1 : 0
    const context: RpcContext = {
      connectionId: this.connectionId,
      requestId: id ?? `notification-${String(this.#notificationCount)}`,
      get signal() {
        return controller.signal
      },
      notify: (notifyMethod, notifyParams) => this.notify(notifyMethod, notifyParams),
      broadcast: (notifyMethod, notifyParams) => {
        try {
          this.#options.broadcast(notifyMethod, notifyParams)
        } catch (error) {
          this.#logFailure(error, notifyMethod, 'app-server: broadcast failed')
        }
      },
    }
    try {
      const result = await method.handle(params, context)
      if (isInitialize) this.#state = 'ready'
      return id === undefined ? null : resultResponse(id, result)
    } catch (error) {
      if (isInitialize) this.#state = 'new'
      if (error instanceof RpcError) {
        return id === undefined ? null : errorResponse(id, error.code, error.message, error.data)
      }
      this.#logFailure(error, name, 'app-server: method failed')
      return answer(RPC_ERROR_CODES.internalError, 'Internal error')
    } finally {
      this.#running.delete(controller)
      if (key !== null) this.#ids.delete(key)
    }
  }

  /** Sends responses (an array for a batch); one that cannot be serialized becomes `-32603`. */
  #sendResponses(responses: readonly JsonRpcResponse[], asBatch: boolean): void {
    const parts = responses.map((response) => {
      try {
        return JSON.stringify(response)
      } catch (error) {
        this.#logFailure(error, '(response)', 'app-server: result not serializable')
        return JSON.stringify(
          errorResponse(response.id, RPC_ERROR_CODES.internalError, 'Internal error'),
        )
      }
    })
    this.sendText(asBatch ? `[${parts.join(',')}]` : (parts[0] ?? ''))
  }

  #logFailure(error: unknown, method: string, message: string): void {
    const err = isErrorLike(error) ? serializeError(error) : { type: typeof error }
    this.#options.logger.error(
      { err, method: quoteMethodName(method), connectionId: this.connectionId },
      message,
    )
  }
}
