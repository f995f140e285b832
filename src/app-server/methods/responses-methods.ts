/**
 * `responses/create` and `responses/cancel`: a Responses API request sent through the proxy's upstream plumbing
 * (`openResponse`: the pool's failover before the first byte, one 401 recovery), its SSE events relayed one by one
 * as `responses/event` notifications (each awaited, so a slow client slows the upstream read instead of growing a
 * buffer), then answered with the terminal event's `response`. A `response.failed` or `response.incomplete` is
 * still a result — it is the model's answer, as the proxy passes it through; `response.status` says which. A stream
 * that ends without a terminal event, and a failure before the first event, are `-32000` errors whose message and
 * `data` come from the broker's public error (code, `retryAfterSeconds`), never from an upstream body or a token.
 * `responses/cancel` (by JSON-RPC id or `runId`, on the same connection only) and the connection closing abort
 * the upstream request at once and answer the create with `-32800 Request cancelled.` The in-flight table may be
 * shared (`options.runs`): the app-server shares it with `agent/run`, so `responses/cancel` cancels those too.
 */
import { PoolExhaustedError } from '../../accounts/index.js'
import { isBrokerError, toPublicError } from '../../lib/index.js'
import { openResponse } from '../../proxy/index.js'
import { affinityHints } from '../../proxy/upstream-exchange.js'
import { isTerminalEvent, UpstreamError, type ResponseEvent } from '../../upstream/index.js'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'
import type { RpcContext, RpcId, RpcMethod } from '../rpc/rpc-method.js'
import { ResponseRuns, type RunSelector } from './responses-runs.js'
import type { AppServerServices } from './services.js'

/** The largest Responses request `responses/create` sends, serialized. */
export const MAX_RESPONSES_REQUEST_BYTES = 10 * 1024 * 1024

/** The message of a create without an upstream. */
export const NO_UPSTREAM_MESSAGE =
  'No upstream is configured: sign in (codex-broker login) or start the server with an API key.'
/** The message of a stream that ended before its terminal event. */
export const STREAM_CUT_MESSAGE = 'The upstream stream ended before the response was complete.'
/** The message of a cancelled create. */
export const CANCELLED_MESSAGE = 'Request cancelled.'

const RUN_ID = /^[\x21-\x7e]{1,128}$/

/** Params of `responses/event`. */
export interface ResponsesEventParams {
  readonly requestId: RpcId
  readonly runId?: string
  /** The upstream event's JSON object, as sent (its `type` says what it is). */
  readonly event: Readonly<Record<string, unknown>>
}

/** The result of `responses/create`. */
export interface ResponsesCreateResult {
  /** The `response` of `response.completed`, `response.failed` or `response.incomplete`. */
  readonly response: Readonly<Record<string, unknown>>
  readonly usage?: unknown
}

interface CreateParams {
  readonly request: Record<string, unknown>
  readonly runId: string | undefined
}

/**
 * The two methods, sharing one in-flight table.
 * @example
 * const methods = new Map(Object.entries({ ...createResponsesMethods(services), ...otherMethods }))
 */
export function createResponsesMethods(
  services: AppServerServices,
  options: { readonly maxRunsPerConnection?: number; readonly runs?: ResponseRuns } = {},
): Record<string, RpcMethod> {
  const runs = options.runs ?? new ResponseRuns(options.maxRunsPerConnection)
  return {
    'responses/create': {
      handle: (params, context) => create(services, runs, params, context),
    },
    'responses/cancel': {
      // The executor turns a params error into a rejection.
      handle: (params, context) =>
        new Promise((resolve) => {
          resolve({ cancelled: runs.cancel(context.connectionId, cancelSelector(params)) })
        }),
    },
  }
}

async function create(
  services: AppServerServices,
  runs: ResponseRuns,
  params: unknown,
  context: RpcContext,
): Promise<ResponsesCreateResult> {
  const { request, runId } = createParams(params)
  const upstream = services.upstream
  if (upstream === undefined) throw new RpcError(RPC_ERROR_CODES.serverError, NO_UPSTREAM_MESSAGE)
  const forced =
    upstream.kind === 'openai'
      ? { ...request, stream: true }
      : { ...request, store: false, stream: true }
  const body = JSON.stringify(forced)
  if (Buffer.byteLength(body) > MAX_RESPONSES_REQUEST_BYTES) {
    throw invalidParams('the request is larger than 10 MiB when serialized.')
  }
  const run = runs.start(context.connectionId, context.requestId, runId, context.signal)
  const { signal } = run
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve()
        },
        { once: true },
      )
  })
  let answer: Awaited<ReturnType<typeof openResponse>> | undefined
  try {
    signal.throwIfAborted()
    answer = await openResponse(upstream, body, signal, affinityHints(request, null))
    const events = answer.events()
    for (;;) {
      const next = await events.next()
      if (next.done === true) return resultOf(next.value.response)
      const event = eventObject(next.value)
      if (event !== null) {
        const notification: ResponsesEventParams =
          runId === undefined
            ? { requestId: context.requestId, event }
            : { requestId: context.requestId, runId, event }
        // Backpressure: the next event is read only once this one is queued (or the run stopped).
        await Promise.race([context.notify('responses/event', notification), stopped])
        signal.throwIfAborted()
      }
      if (isTerminalEvent(next.value)) return resultOf(next.value.response)
    }
  } catch (error) {
    if (signal.aborted) throw new RpcError(RPC_ERROR_CODES.requestCancelled, CANCELLED_MESSAGE)
    throw rpcErrorFor(error, services.clock?.now() ?? Date.now())
  } finally {
    answer?.discard()
    run.finish()
  }
}

function resultOf(response: Readonly<Record<string, unknown>>): ResponsesCreateResult {
  const usage = response.usage
  return usage === undefined || usage === null ? { response } : { response, usage }
}

/** The JSON object of an event; null for a frame whose data was not a JSON object (not relayed). */
function eventObject(event: ResponseEvent): Readonly<Record<string, unknown>> | null {
  if (event.type !== 'unknown') return event
  const data = event.data
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : null
}

/** A failure as a `-32000` with the broker's public code and message (never upstream text). */
function rpcErrorFor(error: unknown, now: number): unknown {
  if (error instanceof RpcError) return error
  if (!isBrokerError(error)) return error // the edge answers -32603 with a generic message
  const body = toPublicError(error)
  const retryAfterSeconds = retryAfter(error, now)
  const data = {
    code: body.code,
    ...(body.hint === undefined ? {} : { hint: body.hint }),
    ...(retryAfterSeconds === null ? {} : { retryAfterSeconds }),
  }
  const message = body.code === 'ERR_STREAM_CUT' ? STREAM_CUT_MESSAGE : body.message
  return new RpcError(RPC_ERROR_CODES.serverError, message, data)
}

function retryAfter(error: unknown, now: number): number | null {
  if (error instanceof PoolExhaustedError) return error.retryAfterSeconds(now)
  if (error instanceof UpstreamError && error.details.resetsAt !== null) {
    return Math.max(1, Math.ceil(error.details.resetsAt - now / 1000))
  }
  return null
}

function invalidParams(what: string): RpcError {
  return new RpcError(RPC_ERROR_CODES.invalidParams, `Invalid params: ${what}`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function createParams(params: unknown): CreateParams {
  if (!isObject(params)) throw invalidParams('expected an object {request, runId?}.')
  const { request, runId } = params
  if (!isObject(request)) throw invalidParams('request must be a Responses API request object.')
  if (typeof request.model !== 'string' || request.model === '') {
    throw invalidParams('request.model must be a non-empty string.')
  }
  if (typeof request.input !== 'string' && !Array.isArray(request.input)) {
    throw invalidParams('request.input must be a string or an array.')
  }
  if (runId !== undefined && (typeof runId !== 'string' || !RUN_ID.test(runId))) {
    throw invalidParams('runId must be 1 to 128 printable ASCII characters.')
  }
  return { request, runId }
}

function cancelSelector(params: unknown): RunSelector {
  if (!isObject(params)) throw invalidParams('expected an object {requestId} or {runId}.')
  const { requestId, runId } = params
  if (requestId !== undefined && runId !== undefined) {
    throw invalidParams('give requestId or runId, not both.')
  }
  if (
    typeof requestId === 'string' ||
    (typeof requestId === 'number' && Number.isFinite(requestId))
  )
    return { requestId }
  if (typeof runId === 'string' && runId !== '') return { runId }
  throw invalidParams('requestId (a string or number) or runId (a string) is required.')
}
