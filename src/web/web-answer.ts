/**
 * What the routes read and answer, as plain objects: `WebRequest` is the part of a Fetch `Request` the handler
 * uses (a real `Request` fits as is), and `WebAnswer` is a status, headers and a body. Fetch `Request` and
 * `Response` objects are made only at the Fetch-API edge; the node and Express adapters skip them altogether,
 * because building them costs more than everything else a small request does (bench/web.mjs, P8).
 */

/** The part of a Fetch `Request` the handler reads. */
export interface WebRequest {
  readonly method: string
  /** The absolute URL. */
  readonly url: string
  readonly headers: { get(name: string): string | null }
  /** Aborted when the client goes away (a Fetch `Request` has one; the node adapter cancels the body instead). */
  readonly signal?: AbortSignal
  /** The body as a stream (a Fetch `Request`), or null. */
  readonly body: ReadableStream<Uint8Array> | null
  /** The body already read into memory (the node adapter), preferred over `body`. */
  readonly bufferedBody?: Uint8Array
}

/** An answer: at most one `Set-Cookie` (the session cookie), in `headers` like any other. */
export interface WebAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  /** Text (JSON), a stream (a run's NDJSON), or nothing. */
  readonly body: string | ReadableStream<Uint8Array> | null
}

/**
 * A JSON answer that no cache keeps.
 * @example
 * return jsonAnswer({ loggedIn: false }, 200, { 'set-cookie': cookie })
 */
export function jsonAnswer(
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): WebAnswer {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...headers,
    },
    body: JSON.stringify(body),
  }
}

/**
 * The Fetch `Response` of an answer.
 * @example
 * return toFetchResponse(await dispatch(request))
 */
export function toFetchResponse(answer: WebAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers })
}
