/**
 * The fetch calls of the browser client, one method per route of the broker's web handler. Every request carries
 * the static header `X-Codex-Broker: 1` (so a cross-origin call always needs a CORS preflight, SECURITY.md C4.7)
 * and the configured `credentials`; POST bodies are JSON. A non-2xx answer becomes a `CodexClientError` with the
 * broker's code and the status; a network failure becomes `network_error`; an abort rejects with the signal's
 * reason, unchanged.
 */
import {
  parseErrorAnswer,
  parseLoginStartAnswer,
  parseSessionAnswer,
  parseStatusAnswer,
  type LoginStartAnswer,
  type SessionAnswer,
  type StatusAnswer,
} from './api-responses.js'
import { CodexClientError } from './errors.js'

/** The static header every request carries, and its value. */
export const BROKER_HEADER_NAME = 'X-Codex-Broker'
/** @see {@link BROKER_HEADER_NAME} */
export const BROKER_HEADER_VALUE = '1'

/** The default mount point of the broker's web handler. */
export const DEFAULT_BASE_URL = '/api/codex'

/**
 * The part of `fetch` the client uses; `globalThis.fetch` is one.
 * @example
 * const fetchLike: FetchLike = (url, init) => fetch(url, init)
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

/**
 * How to reach the broker.
 * @example
 * const options: ApiClientOptions = { baseUrl: '/api/codex', credentials: 'same-origin', fetch: globalThis.fetch }
 */
export interface ApiClientOptions {
  readonly baseUrl: string
  readonly credentials: RequestCredentials
  readonly fetch: FetchLike
}

/** The body of `POST /run/stream`. */
export interface RunRequest {
  readonly prompt: string
  readonly model?: string
}

/** The body of `POST /logout`. */
export interface LogoutRequest {
  readonly everywhere?: boolean
}

/**
 * One method per route; each takes the signal that aborts it.
 * @example
 * const session = await createApiClient(options).session(signal)
 */
export interface ApiClient {
  session(signal: AbortSignal): Promise<SessionAnswer>
  loginStart(signal: AbortSignal): Promise<LoginStartAnswer>
  status(signal: AbortSignal): Promise<StatusAnswer>
  /** Resolves with the 200 response whose body is the NDJSON stream. */
  runStream(body: RunRequest, signal: AbortSignal): Promise<Response>
  logout(body: LogoutRequest, signal: AbortSignal): Promise<void>
}

async function readJson(response: Response): Promise<unknown> {
  try {
    const body: unknown = await response.json()
    return body
  } catch (error) {
    throw new CodexClientError('invalid_response', 'The broker sent an answer that is not JSON.', {
      status: response.status,
      cause: error,
    })
  }
}

/**
 * Creates the client for one broker.
 * @example
 * const api = createApiClient({ baseUrl: '/api/codex', credentials: 'same-origin', fetch: (u, i) => fetch(u, i) })
 * const { loggedIn } = await api.session(new AbortController().signal)
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = options.baseUrl.replace(/\/+$/, '')

  const request = async (
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    signal: AbortSignal,
  ): Promise<Response> => {
    const headers: Record<string, string> = { [BROKER_HEADER_NAME]: BROKER_HEADER_VALUE }
    const init: RequestInit = { method, headers, credentials: options.credentials, signal }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    let response: Response
    try {
      response = await options.fetch(`${base}${path}`, init)
    } catch (error) {
      if (signal.aborted) throw error
      throw new CodexClientError('network_error', 'The broker could not be reached.', {
        cause: error,
      })
    }
    if (!response.ok) {
      const info = parseErrorAnswer(await readJson(response).catch(() => null), response.status)
      throw new CodexClientError(info.code, info.message, { status: response.status })
    }
    return response
  }

  return {
    session: async (signal) =>
      parseSessionAnswer(await readJson(await request('POST', '/session', {}, signal))),
    loginStart: async (signal) =>
      parseLoginStartAnswer(await readJson(await request('POST', '/login/start', {}, signal))),
    status: async (signal) =>
      parseStatusAnswer(await readJson(await request('GET', '/status', undefined, signal))),
    runStream: (body, signal) => request('POST', '/run/stream', body, signal),
    logout: async (body, signal) => {
      await request('POST', '/logout', body, signal)
    },
  }
}
