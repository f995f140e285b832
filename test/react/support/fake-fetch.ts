/**
 * A fake `fetch` for the browser-client tests: answers from a route table (`'POST /api/codex/session'`), records
 * every call with its method, path, headers (lower-cased), credentials and parsed JSON body, and honours the
 * call's `AbortSignal` (a pending answer rejects with an `AbortError` when the signal aborts), so tests can assert
 * what went on the wire and that unmounting aborts what is in flight.
 */
import type { FetchLike } from '../../../src/react/api-client.js'

export interface RecordedCall {
  readonly route: string
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly credentials: RequestCredentials | undefined
  readonly body: unknown
  readonly signal: AbortSignal | undefined
  /** Set when the call's signal aborted before the answer was delivered. */
  aborted: boolean
}

export type Answer =
  Response | Promise<Response> | ((call: RecordedCall) => Response | Promise<Response>)

export interface FakeFetch {
  readonly fetch: FetchLike
  readonly calls: RecordedCall[]
  /** Queues answers for a route; the last one repeats. */
  on(route: string, ...answers: Answer[]): FakeFetch
  /** The calls to one route. */
  callsTo(route: string): RecordedCall[]
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

/** An NDJSON response delivering each chunk as a separate read. */
export function ndjson(chunks: readonly (string | Uint8Array)[], status = 200): Response {
  const encoder = new TextEncoder()
  const queue = chunks.map((chunk) => (typeof chunk === 'string' ? encoder.encode(chunk) : chunk))
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift()
      if (next === undefined) controller.close()
      else controller.enqueue(next)
    },
  })
  return new Response(stream, { status, headers: { 'Content-Type': 'application/x-ndjson' } })
}

export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

function abortError(): Error {
  return new DOMException('The operation was aborted.', 'AbortError')
}

/**
 * Creates the fake. An unknown route answers 404 `{"error":{"code":"not_found"}}`. `log`, if given, receives
 * `fetch <route>` at each call (to check ordering against other events).
 */
export function createFakeFetch(log?: string[]): FakeFetch {
  const routes = new Map<string, Answer[]>()
  const calls: RecordedCall[] = []

  const fetch: FetchLike = (input, init) => {
    const url = new URL(input, 'https://app.example')
    const method = init.method ?? 'GET'
    const route = `${method} ${url.pathname}`
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((value, key) => {
      headers[key.toLowerCase()] = value
    })
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : init.body
    const call: RecordedCall = {
      route,
      method,
      url: input,
      headers,
      credentials: init.credentials,
      body,
      signal: init.signal ?? undefined,
      aborted: false,
    }
    calls.push(call)
    log?.push(`fetch ${route}`)
    const queue = routes.get(route)
    const answer: Answer =
      queue === undefined || queue.length === 0
        ? json({ error: { code: 'not_found', message: 'No such route.' } }, 404)
        : queue.length > 1
          ? (queue.shift() as Answer)
          : (queue[0] as Answer)
    const signal = init.signal
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted === true) {
        call.aborted = true
        reject(abortError())
        return
      }
      const onAbort = (): void => {
        call.aborted = true
        reject(abortError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      Promise.resolve(typeof answer === 'function' ? answer(call) : answer).then(
        (response) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(response)
        },
        (error: unknown) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error instanceof Error ? error : new Error(String(error)))
        },
      )
    })
  }

  const fake: FakeFetch = {
    fetch,
    calls,
    on(route, ...answers) {
      routes.set(route, answers)
      return fake
    },
    callsTo: (route) => calls.filter((call) => call.route === route),
  }
  return fake
}
