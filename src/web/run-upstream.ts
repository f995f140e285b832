/**
 * Where a web run is sent: the Codex backend with the session's own ChatGPT sign-in (its token from the
 * `TokenManager`, which refreshes single-flight under the credential store's lock, so two instances never refresh
 * one user twice; one 401 recovery before any byte is read), or the OpenAI API with the app's key. The request is
 * built here from the prompt alone — the browser never chooses tools, instructions or anything but an allowlisted
 * model.
 */
import type { Secret } from '../lib/index.js'
import type { TokenManager } from '../tokens/index.js'
import {
  type CodexBackend,
  type OpenAIApi,
  UpstreamError,
  type UpstreamResponse,
} from '../upstream/index.js'

/** What a run asks for. */
export interface RunInput {
  readonly prompt: string
  readonly model: string
  readonly instructions: string
}

/** Opens a streamed Responses request for a session. */
export interface RunUpstream {
  /** `credentialId` is the session's store id (null in API-key mode, where the app's key is used). */
  open(credentialId: string | null, input: RunInput, signal: AbortSignal): Promise<UpstreamResponse>
}

function responsesBody(input: RunInput): Record<string, unknown> {
  return {
    model: input.model,
    instructions: input.instructions,
    input: [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: input.prompt }] },
    ],
    stream: true,
    store: false,
  }
}

/**
 * Runs through the Codex backend with each session's own tokens.
 * @example
 * const upstream = chatgptRunUpstream(tokens, new CodexBackend({ backendBase, identity }))
 */
export function chatgptRunUpstream(tokens: TokenManager, backend: CodexBackend): RunUpstream {
  return {
    async open(credentialId, input, signal) {
      if (credentialId === null) throw new Error('a ChatGPT run needs the session credential id')
      const body = responsesBody(input)
      const granted = await tokens.getAccessToken(credentialId, { signal })
      try {
        return await backend.createResponse({ credentials: granted, body, signal })
      } catch (error) {
        if (!(error instanceof UpstreamError) || error.details.recovery !== 'refresh') throw error
        const recovered = await tokens.recoverUnauthorized(credentialId, granted.accessToken, {
          signal,
        })
        return backend.createResponse({ credentials: recovered, body, signal })
      }
    },
  }
}

/**
 * Runs through the OpenAI API with the app's key (every session shares it).
 * @example
 * const upstream = apiKeyRunUpstream(new OpenAIApi({ apiBase }), Secret.from(key))
 */
export function apiKeyRunUpstream(api: OpenAIApi, apiKey: Secret): RunUpstream {
  return {
    open(_credentialId, input, signal) {
      return api.createResponse({ apiKey, body: responsesBody(input), signal })
    },
  }
}
