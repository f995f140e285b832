/**
 * The one place an upstream request goes out, shared by the Codex backend and the OpenAI API clients: undici's
 * `request` on our own dispatcher (no redirects followed, no body timeout), a 2xx handed back with its body as
 * a raw byte stream that a proxy can pipe untouched with backpressure, and anything else classified into an
 * `UpstreamError` after reading at most a few kilobytes of its body — which is then dropped, never forwarded
 * (SECURITY.md C2.8). A caller's abort always surfaces as the abort itself, never as an upstream failure.
 */
import type { Readable } from 'node:stream'
import { request, type Dispatcher } from 'undici'
import { quotaFromHeaders, type QuotaSnapshot } from './quota-snapshot.js'
import {
  responseEvents,
  type ResponseEvent,
  type TerminalResponseEvent,
} from './response-events.js'
import { classifyUpstreamFailure, UpstreamError } from './upstream-error.js'

/** How much of a failed answer's body is read to classify it. */
const ERROR_BODY_LIMIT = 64 * 1024

/** A successful (2xx) upstream answer whose body has not been read yet. */
export interface UpstreamResponse {
  status: number
  /** The answer's `content-type` (empty when absent). */
  contentType: string
  /** The answer's headers (hop-by-hop ones included; a proxy strips them). Built on first use. */
  headers: Headers
  /** The `x-codex-*` quota headers (all null in API-key mode). Read on first use. */
  quota: QuotaSnapshot
  /**
   * The raw body bytes, untouched: pipe it (`pipeline(body, res)`) or iterate it. Read either this or
   * {@link UpstreamResponse.events}, not both. `Readable.toWeb(body)` gives a web `ReadableStream`.
   */
  body: Readable & AsyncIterable<Uint8Array>
  /**
   * The body as typed Responses events; ends with the terminal event as its return value.
   * @throws {BrokerError} `ERR_STREAM_CUT` when the stream ends or breaks before a terminal event.
   */
  events(): AsyncGenerator<ResponseEvent, TerminalResponseEvent, undefined>
  /** Drops the answer (closes its connection) without reading it. */
  discard(): void
}

/** One upstream request. */
export interface UpstreamRequest {
  dispatcher: Dispatcher
  url: URL
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
  signal?: AbortSignal | undefined
  /** Names the call in error messages, e.g. "Codex responses". */
  what: string
  /** Whether a 401 can be recovered by a token refresh. */
  refreshable: boolean
  /** The model the request names, read only when an error needs it. */
  model?: () => string | null
}

/**
 * Sends the request.
 * @throws {UpstreamError} for a non-2xx answer or a network failure; the caller's abort reason when aborted.
 * @example
 * const answer = await sendUpstream({ dispatcher, url, method: 'POST', headers, body, what: 'Codex responses', refreshable: true })
 */
export async function sendUpstream(options: UpstreamRequest): Promise<UpstreamResponse> {
  const { signal } = options
  let answer: Dispatcher.ResponseData
  try {
    answer = await request(options.url, {
      dispatcher: options.dispatcher,
      method: options.method,
      headers: options.headers,
      body: options.body ?? null,
      signal: signal ?? null,
    })
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason
    throw new UpstreamError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `Could not reach the upstream (${options.what}).`,
      { status: null, recovery: 'retry' },
      { cause: error, hint: 'Check the network and try again.' },
    )
  }
  const status = answer.statusCode
  if (status < 200 || status >= 300) {
    const headers = toHeaders(answer.headers)
    const bodyText = await readCapped(answer.body, ERROR_BODY_LIMIT)
    if (signal?.aborted === true) throw signal.reason
    throw classifyUpstreamFailure({
      status,
      headers,
      bodyText,
      what: options.what,
      refreshable: options.refreshable,
      model: status === 400 ? (options.model?.() ?? null) : null,
      quota: quotaFromHeaders(headers),
    })
  }
  const body = answer.body
  const raw = answer.headers
  const type = raw['content-type']
  // Headers and quota are built only when asked for: a relay needs neither, and they cost per request (P1).
  let headers: Headers | undefined
  let quota: QuotaSnapshot | undefined
  return {
    status,
    contentType: typeof type === 'string' ? type : '',
    get headers() {
      headers ??= toHeaders(raw)
      return headers
    },
    get quota() {
      quota ??= quotaFromHeaders(raw)
      return quota
    },
    body,
    events: () => responseEvents(body, signal),
    discard: () => {
      close(body)
    },
  }
}

/**
 * Reads at most `limit` bytes of a body as text, then closes it. A broken body answers what arrived.
 * @example
 * const text = await readCapped(answer.body, 1024 * 1024)
 */
export async function readCapped(body: Readable, limit: number): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const room = limit - size
      text += decoder.decode(chunk.subarray(0, room), { stream: true })
      size += chunk.byteLength
      if (size >= limit) break
    }
  } catch {
    // A broken error body is classified by what arrived.
  } finally {
    close(body)
  }
  return text + decoder.decode()
}

/** Destroys a body nobody will read; undici then emits an AbortError that nobody needs to hear. */
function close(body: Readable): void {
  if (body.destroyed) return
  body.on('error', ignore)
  body.destroy()
}

function ignore(): void {
  // Intentionally empty: the error of a discarded body.
}

/** The model a Responses request names, for error messages (never from the upstream's text). */
export function requestModel(body: object | string): string | null {
  let parsed: unknown = body
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body)
    } catch {
      return null
    }
  }
  if (typeof parsed !== 'object' || parsed === null || !('model' in parsed)) return null
  return typeof parsed.model === 'string' ? parsed.model : null
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else headers.append(name, value)
  }
  return headers
}
