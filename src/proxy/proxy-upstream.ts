/**
 * Where the proxy sends requests: the ChatGPT Codex backend with the account's access token from the
 * `TokenManager` (recovering once from a 401, before any byte went to the client), or the OpenAI API with an API
 * key. The caller's headers never reach the upstream: the clients build every outgoing header themselves
 * (SECURITY.md C2.5), and the bearer goes only into `authorization` (C2.6).
 */
import type { AccountPool, AffinityHints } from '../accounts/index.js'
import type { Secret } from '../lib/index.js'
import type { TokenManager } from '../tokens/index.js'
import {
  UpstreamError,
  type CodexBackend,
  type CodexModel,
  type OpenAIApi,
  type UpstreamResponse,
} from '../upstream/index.js'
import { withPooledAccount } from './pooled-account.js'

/** ChatGPT mode: one signed-in account through the Codex backend. */
export interface ChatgptUpstream {
  readonly kind: 'chatgpt'
  readonly tokens: TokenManager
  readonly accountId: string
  readonly backend: CodexBackend
  /** The `client_version` sent when listing models; default `0.169.0`. */
  readonly clientVersion?: string
}

/** API-key mode: the OpenAI API. */
export interface OpenAIUpstream {
  readonly kind: 'openai'
  readonly apiKey: Secret
  readonly api: OpenAIApi
}

/** ChatGPT mode over several accounts: each request gets the pool's pick, with failover before the first byte. */
export interface PoolUpstream {
  readonly kind: 'pool'
  readonly pool: AccountPool
  readonly tokens: TokenManager
  readonly backend: CodexBackend
  /** The `client_version` sent when listing models; default `0.169.0`. */
  readonly clientVersion?: string
}

/** The upstream the proxy forwards to. */
export type ProxyUpstream = ChatgptUpstream | OpenAIUpstream | PoolUpstream

const DEFAULT_CLIENT_VERSION = '0.169.0'

/**
 * Runs `call` with the account's token; on a 401 that a refresh can fix, recovers once and runs it again.
 * @example
 * const models = await withAccessToken(upstream, (credentials) => backend.listModels({ credentials, clientVersion }))
 */
export async function withAccessToken<T>(
  upstream: ChatgptUpstream,
  call: (credentials: { accessToken: Secret; chatgptAccountId: string }) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const options = signal === undefined ? {} : { signal }
  const first = await upstream.tokens.getAccessToken(upstream.accountId, options)
  try {
    return await call(first)
  } catch (error) {
    if (!(error instanceof UpstreamError) || error.details.recovery !== 'refresh') throw error
    const recovered = await upstream.tokens.recoverUnauthorized(
      upstream.accountId,
      first.accessToken,
      options,
    )
    return call(recovered)
  }
}

/**
 * Sends one Responses request (`body` is the JSON text to forward) and answers once the upstream's 2xx headers
 * arrive, before any byte goes to the client.
 * @throws {UpstreamError} classified upstream failures; the abort reason when `signal` aborts.
 * @example
 * const answer = await openResponse(upstream, JSON.stringify(request), controller.signal)
 */
export function openResponse(
  upstream: ProxyUpstream,
  body: string,
  signal: AbortSignal,
  hints: AffinityHints = {},
): Promise<UpstreamResponse> {
  if (upstream.kind === 'openai') {
    return upstream.api.createResponse({ apiKey: upstream.apiKey, body, signal })
  }
  if (upstream.kind === 'pool') {
    return withPooledAccount(
      upstream,
      hints,
      signal,
      (account) =>
        withAccessToken(
          account,
          (credentials) => upstream.backend.createResponse({ credentials, body, signal }),
          signal,
        ),
      (answer) => answer.quota,
    )
  }
  return withAccessToken(
    upstream,
    (credentials) => upstream.backend.createResponse({ credentials, body, signal }),
    signal,
  )
}

/** One model in OpenAI's list shape. */
export interface ListedModel {
  readonly id: string
  readonly object: 'model'
  readonly owned_by: 'openai'
}

/**
 * The models the upstream offers, in OpenAI's list shape: the plan's models from the backend in ChatGPT mode, the
 * API's own `GET /models` with the key in API-key mode.
 * @example
 * const data = await listModels(upstream, signal)
 */
export async function listModels(
  upstream: ProxyUpstream,
  signal: AbortSignal,
): Promise<ListedModel[]> {
  let ids: readonly string[]
  if (upstream.kind === 'openai') {
    const models = await upstream.api.listModels({ apiKey: upstream.apiKey, signal })
    ids = models.map((model) => model.id)
  } else {
    const clientVersion = upstream.clientVersion ?? DEFAULT_CLIENT_VERSION
    const list = (account: ChatgptUpstream): Promise<CodexModel[]> =>
      withAccessToken(
        account,
        (credentials) => upstream.backend.listModels({ credentials, clientVersion, signal }),
        signal,
      )
    const models =
      upstream.kind === 'pool'
        ? await withPooledAccount(upstream, {}, signal, list, () => null)
        : await list(upstream)
    ids = models.map((model) => model.slug)
  }
  return ids.map((id) => ({ id, object: 'model', owned_by: 'openai' }))
}
