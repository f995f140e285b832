/**
 * The in-flight table of `responses/create`: one entry per running request, keyed by its connection and its
 * JSON-RPC id (and, when the client named one, its `runId`), each with the abort controller of its upstream
 * request. Lookups are scoped to the caller's connection, so `responses/cancel` can never reach another
 * connection's run; a per-connection cap keeps one client from holding every upstream slot.
 */
import type { RpcId } from '../rpc/rpc-method.js'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'

/** Runs one connection may have in flight at once (default of {@link ResponseRuns}). */
export const DEFAULT_MAX_RUNS_PER_CONNECTION = 16

/** The abort reason of a run that `responses/cancel` ended. */
export class RunCancelledError extends Error {
  override readonly name = 'RunCancelledError'
  constructor() {
    super('Request cancelled.')
  }
}

/** One running `responses/create`. */
export interface ResponseRun {
  /** Aborted by `responses/cancel` (reason {@link RunCancelledError}) or when the connection closes. */
  readonly signal: AbortSignal
  /** Removes the run from the table; call once, when the request is answered. */
  finish(): void
}

/** What `responses/cancel` names. */
export type RunSelector = { readonly requestId: RpcId } | { readonly runId: string }

interface Entry {
  readonly controller: AbortController
  readonly runId: string | undefined
}

interface ConnectionRuns {
  readonly byRequest: Map<string, Entry>
  readonly byRunId: Map<string, Entry>
  /** One listener per connection (not per run), removed with the last run. */
  readonly detach: () => void
}

/** `1` and `"1"` are different JSON-RPC ids. */
function idKey(id: RpcId): string {
  return `${typeof id}:${String(id)}`
}

/**
 * The table.
 * @example
 * const run = runs.start(context.connectionId, context.requestId, runId, context.signal)
 * try { await stream(run.signal) } finally { run.finish() }
 * runs.cancel(context.connectionId, { requestId: 7 }) // true when it was running
 */
export class ResponseRuns {
  readonly #max: number
  readonly #connections = new Map<string, ConnectionRuns>()

  constructor(maxPerConnection: number = DEFAULT_MAX_RUNS_PER_CONNECTION) {
    this.#max = maxPerConnection
  }

  /** Runs in flight on a connection. */
  count(connectionId: string): number {
    return this.#connections.get(connectionId)?.byRequest.size ?? 0
  }

  /**
   * Registers a run whose signal also follows `connectionSignal`.
   * @throws {RpcError} -32000 above the cap; -32600 for an id already running; -32602 for a runId in use.
   */
  start(
    connectionId: string,
    requestId: RpcId,
    runId: string | undefined,
    connectionSignal: AbortSignal,
  ): ResponseRun {
    let runs = this.#connections.get(connectionId)
    if (runs === undefined) {
      const byRequest = new Map<string, Entry>()
      const onClose = (): void => {
        for (const entry of byRequest.values()) entry.controller.abort(connectionSignal.reason)
      }
      connectionSignal.addEventListener('abort', onClose, { once: true })
      runs = {
        byRequest,
        byRunId: new Map(),
        detach: () => {
          connectionSignal.removeEventListener('abort', onClose)
        },
      }
      this.#connections.set(connectionId, runs)
    }
    const key = idKey(requestId)
    if (runs.byRequest.size >= this.#max) {
      throw new RpcError(
        RPC_ERROR_CODES.serverError,
        `Too many responses in flight on this connection (at most ${this.#max}); wait for one to finish or cancel it.`,
        { code: 'ERR_RATE_LIMITED', limit: this.#max },
      )
    }
    if (runs.byRequest.has(key)) {
      throw new RpcError(
        RPC_ERROR_CODES.invalidRequest,
        'A request with this id is already in flight.',
      )
    }
    if (runId !== undefined && runs.byRunId.has(runId)) {
      throw new RpcError(
        RPC_ERROR_CODES.invalidParams,
        'Invalid params: runId is already in use by a running request.',
      )
    }
    const controller = new AbortController()
    if (connectionSignal.aborted) controller.abort(connectionSignal.reason)
    const entry: Entry = { controller, runId }
    runs.byRequest.set(key, entry)
    if (runId !== undefined) runs.byRunId.set(runId, entry)
    const table = runs
    let finished = false
    return {
      signal: controller.signal,
      finish: () => {
        if (finished) return
        finished = true
        table.byRequest.delete(key)
        if (runId !== undefined) table.byRunId.delete(runId)
        if (table.byRequest.size === 0) {
          table.detach()
          this.#connections.delete(connectionId)
        }
      },
    }
  }

  /** Cancels a run of this connection; true when one was running and is now cancelled. */
  cancel(connectionId: string, selector: RunSelector): boolean {
    const runs = this.#connections.get(connectionId)
    if (runs === undefined) return false
    const entry =
      'requestId' in selector
        ? runs.byRequest.get(idKey(selector.requestId))
        : runs.byRunId.get(selector.runId)
    if (entry === undefined || entry.controller.signal.aborted) return false
    entry.controller.abort(new RunCancelledError())
    return true
  }
}
