/**
 * The ChatGPT Codex backend client (PROTOCOL.md §7): `POST {backend}/codex/responses` with the account's access
 * token and the Codex headers, answered as a raw SSE byte stream plus its quota snapshot, and
 * `GET {backend}/codex/models`. The access token goes only into the `authorization` header (SECURITY.md C2.6);
 * the origin and paths are fixed by configuration (C2.4); failures are classified `UpstreamError`s that never
 * carry the upstream body.
 */
import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { z } from 'zod'
import { BrokerError, type Secret } from '../lib/index.js'
import { codexHeaders, type ClientIdentity } from './codex-headers.js'
import { closeDispatcher, createUpstreamDispatcher } from './dispatcher.js'
import {
  readCapped,
  requestModel,
  sendUpstream,
  type UpstreamResponse,
} from './upstream-request.js'

/** The account a request runs as. */
export interface CodexCredentials {
  accessToken: Secret
  chatgptAccountId: string
}

/** Options of {@link CodexBackend}. */
export interface CodexBackendOptions {
  /** e.g. `https://chatgpt.com/backend-api`. */
  backendBase: string
  identity: ClientIdentity
  /** The connection pool; by default the client makes its own and {@link CodexBackend.close} closes it. */
  dispatcher?: Dispatcher
}

/** One Responses request to the backend. */
export interface CodexResponseRequest {
  credentials: CodexCredentials
  /** The Responses API request: an object, or its JSON text forwarded byte for byte. */
  body: object | string
  /** The conversation id (`session-id` header; the same value keeps the prompt cache warm). Default: a UUID. */
  sessionId?: string
  signal?: AbortSignal
}

/** A streaming answer of the backend, with the `session-id` that was sent. */
export interface CodexResponse extends UpstreamResponse {
  sessionId: string
}

/** Options of {@link CodexBackend.listModels}. */
export interface ListModelsRequest {
  credentials: CodexCredentials
  /** The client version the backend picks models for (`client_version`). */
  clientVersion: string
  signal?: AbortSignal
}

const modelSchema = z.looseObject({
  slug: z.string(),
  display_name: z.string().nullish(),
  description: z.string().nullish(),
  context_window: z.number().nullish(),
})
const modelsSchema = z.looseObject({ models: z.array(modelSchema) })

/** One model of `GET /codex/models` (unknown fields kept). */
export type CodexModel = z.output<typeof modelSchema>

const SESSION_ID = /^[\x21-\x7e]{1,256}$/
const MODELS_BODY_LIMIT = 1024 * 1024

/**
 * The Codex backend client.
 * @example
 * const backend = new CodexBackend({ backendBase, identity: { originator: 'codex_cli_rs', version } })
 * const answer = await backend.createResponse({ credentials, body: { model: 'gpt-5.4', input, stream: true, store: false } })
 * for await (const event of answer.events()) if (event.type === 'response.output_text.delta') write(event.delta)
 * @see PROTOCOL.md §7
 */
export class CodexBackend {
  readonly #base: string
  readonly #identity: ClientIdentity
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean

  constructor(options: CodexBackendOptions) {
    this.#base = options.backendBase.replace(/\/+$/, '')
    this.#identity = options.identity
    this.#ownsDispatcher = options.dispatcher === undefined
    this.#dispatcher = options.dispatcher ?? createUpstreamDispatcher()
  }

  /**
   * `POST {backend}/codex/responses`. Answers once the headers of a 2xx arrive; the body is left to the caller.
   * @throws {UpstreamError} 401 `ERR_UPSTREAM_UNAUTHORIZED` (recovery `refresh`), 429 `ERR_UPSTREAM_RATE_LIMITED`
   * (with `resetsAt`), 403 challenge `ERR_UPSTREAM_CHALLENGE`, `ERR_MODEL_UNSUPPORTED`, 3xx
   * `ERR_UPSTREAM_BAD_RESPONSE` (not followed), 5xx or network `ERR_UPSTREAM_UNAVAILABLE`.
   */
  async createResponse(request: CodexResponseRequest): Promise<CodexResponse> {
    const sessionId = request.sessionId ?? randomUUID()
    if (!SESSION_ID.test(sessionId)) {
      throw new BrokerError('ERR_INVALID_REQUEST', 'The session id must be printable ASCII.')
    }
    const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body)
    const answer = await sendUpstream({
      dispatcher: this.#dispatcher,
      url: new URL(`${this.#base}/codex/responses`),
      method: 'POST',
      headers: codexHeaders(this.#identity, request.credentials, {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        'session-id': sessionId,
      }),
      body,
      signal: request.signal,
      what: 'Codex responses',
      refreshable: true,
      model: () => requestModel(request.body),
    })
    return { ...answer, sessionId }
  }

  /**
   * `GET {backend}/codex/models?client_version=…`: the models the account's plan may use.
   * @throws {UpstreamError} as {@link CodexBackend.createResponse}; `ERR_UPSTREAM_BAD_RESPONSE` for a body of
   * the wrong shape.
   */
  async listModels(request: ListModelsRequest): Promise<CodexModel[]> {
    const url = new URL(`${this.#base}/codex/models`)
    url.searchParams.set('client_version', request.clientVersion)
    const answer = await sendUpstream({
      dispatcher: this.#dispatcher,
      url,
      method: 'GET',
      headers: codexHeaders(this.#identity, request.credentials, { accept: 'application/json' }),
      signal: request.signal,
      what: 'Codex models',
      refreshable: true,
    })
    const text = await readCapped(answer.body, MODELS_BODY_LIMIT)
    try {
      return modelsSchema.parse(JSON.parse(text)).models
    } catch (error) {
      throw new BrokerError(
        'ERR_UPSTREAM_BAD_RESPONSE',
        'The backend listed models in an unexpected shape.',
        { cause: error },
      )
    }
  }

  /** Closes the connection pool if this client made it (a shared dispatcher is left to its owner). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await closeDispatcher(this.#dispatcher)
  }
}
