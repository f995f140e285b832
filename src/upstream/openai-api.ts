/**
 * The OpenAI API client for API-key mode (PROTOCOL.md §8): `POST {api}/responses` with `Authorization: Bearer
 * sk-…`, the same request and SSE shapes as the backend, answered and classified by the same transport. A 401
 * here cannot be recovered by a refresh, and no error ever carries the key or the API's message (which masks
 * the key, but is still upstream text).
 */
import type { Dispatcher } from 'undici'
import { z } from 'zod'
import { BrokerError, type Secret } from '../lib/index.js'
import { userAgent, type ClientIdentity } from './codex-headers.js'
import { closeDispatcher, createUpstreamDispatcher } from './dispatcher.js'
import {
  readCapped,
  requestModel,
  sendUpstream,
  type UpstreamResponse,
} from './upstream-request.js'

/** Options of {@link OpenAIApi}. */
export interface OpenAIApiOptions {
  /** e.g. `https://api.openai.com/v1`. */
  apiBase: string
  /** Sets the `user-agent` when given. */
  identity?: ClientIdentity
  /** The connection pool; by default the client makes its own and {@link OpenAIApi.close} closes it. */
  dispatcher?: Dispatcher
}

/** One Responses request to the API. */
export interface OpenAIResponseRequest {
  apiKey: Secret
  /** The Responses API request: an object, or its JSON text forwarded byte for byte. */
  body: object | string
  signal?: AbortSignal
}

const STREAM_FLAG = /"stream"\s*:\s*true/
const MODELS_BODY_LIMIT = 1024 * 1024
const apiModelsSchema = z.looseObject({ data: z.array(z.looseObject({ id: z.string() })) })

/** One model of `GET {api}/models` (unknown fields kept). */
export type ApiModel = z.output<typeof apiModelsSchema>['data'][number]

/**
 * The OpenAI API client.
 * @example
 * const api = new OpenAIApi({ apiBase: 'https://api.openai.com/v1' })
 * const answer = await api.createResponse({ apiKey, body: { model: 'gpt-5.4', input: 'hi', stream: true } })
 * await pipeline(answer.body, res)
 * @see PROTOCOL.md §8
 */
export class OpenAIApi {
  readonly #base: string
  readonly #identity: ClientIdentity | undefined
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean

  constructor(options: OpenAIApiOptions) {
    this.#base = options.apiBase.replace(/\/+$/, '')
    this.#identity = options.identity
    this.#ownsDispatcher = options.dispatcher === undefined
    this.#dispatcher = options.dispatcher ?? createUpstreamDispatcher()
  }

  /**
   * `POST {api}/responses`. A streamed request answers SSE (use `events()`); otherwise `body` is the JSON.
   * @throws {UpstreamError} classified as for the backend; a 401 is `ERR_UPSTREAM_UNAUTHORIZED` with recovery
   * `none`.
   */
  async createResponse(request: OpenAIResponseRequest): Promise<UpstreamResponse> {
    const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body)
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.apiKey.reveal()}`,
      accept: STREAM_FLAG.test(body) ? 'text/event-stream' : 'application/json',
      'content-type': 'application/json',
    }
    if (this.#identity) headers['user-agent'] = userAgent(this.#identity)
    return sendUpstream({
      dispatcher: this.#dispatcher,
      url: new URL(`${this.#base}/responses`),
      method: 'POST',
      headers,
      body,
      signal: request.signal,
      what: 'OpenAI responses',
      refreshable: false,
      model: () => requestModel(request.body),
    })
  }

  /**
   * `GET {api}/models`: the models this key may use.
   * @throws {UpstreamError} classified as for `createResponse`; `ERR_UPSTREAM_BAD_RESPONSE` for another shape.
   */
  async listModels(request: { apiKey: Secret; signal?: AbortSignal }): Promise<ApiModel[]> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.apiKey.reveal()}`,
      accept: 'application/json',
    }
    if (this.#identity) headers['user-agent'] = userAgent(this.#identity)
    const answer = await sendUpstream({
      dispatcher: this.#dispatcher,
      url: new URL(`${this.#base}/models`),
      method: 'GET',
      headers,
      signal: request.signal,
      what: 'OpenAI models',
      refreshable: false,
    })
    const text = await readCapped(answer.body, MODELS_BODY_LIMIT)
    try {
      return apiModelsSchema.parse(JSON.parse(text)).data
    } catch (error) {
      throw new BrokerError(
        'ERR_UPSTREAM_BAD_RESPONSE',
        'The API listed models in an unexpected shape.',
        { cause: error },
      )
    }
  }

  /** Closes the connection pool if this client made it. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await closeDispatcher(this.#dispatcher)
  }
}
