/**
 * `DirectRunner`: a run is one streamed Responses request to the Codex backend (PROTOCOL.md §7) with the
 * account's own access token from the `TokenManager` (refreshed single-flight under the store's lock), and one
 * unauthorized recovery — a 401 before any event is read re-reads the store, refreshes once and retries once, as
 * the web handler does. The request is built from the prompt alone (no tools, fixed instructions, the caller's
 * model), so nothing a caller sends can reach the backend but text. Text deltas become `text` events; the
 * terminal event becomes `done` (with the response's `usage`) or `error` (`response_failed`,
 * `response_incomplete`, or the broker error's code). There is no working directory: `cwd` is ignored.
 */
import type { TokenManager } from '../tokens/index.js'
import {
  type CodexBackend,
  isTerminalEvent,
  type TerminalResponseEvent,
  UpstreamError,
  type UpstreamResponse,
} from '../upstream/index.js'
import { runErrorFrom } from './run-error.js'
import type { RunEvent, RunInput, Runner, TerminalRunEvent } from './runner.js'

/** The model of a run that names none. */
export const DEFAULT_DIRECT_MODEL = 'gpt-5.4'

/** The instructions of every direct run unless configured. */
export const DEFAULT_DIRECT_INSTRUCTIONS = 'You are a helpful assistant. Answer concisely.'

/** Options of {@link DirectRunner}. */
export interface DirectRunnerOptions {
  /** Valid access tokens per account. */
  readonly tokens: TokenManager
  /** The Codex backend client. */
  readonly backend: CodexBackend
  /** The model of a run that names none (default {@link DEFAULT_DIRECT_MODEL}). */
  readonly defaultModel?: string
  /** The instructions sent with every run (default {@link DEFAULT_DIRECT_INSTRUCTIONS}). */
  readonly instructions?: string
}

/**
 * The run event that ends a Responses stream: `done` with its usage, or an `error` for a failed or incomplete
 * answer (a fixed message; the upstream's own text is never passed on). The web handler's NDJSON uses it too.
 * @example
 * if (isTerminalEvent(event)) yield terminalRunEvent(event)
 */
export function terminalRunEvent(event: TerminalResponseEvent): TerminalRunEvent {
  const { response } = event
  if (event.type === 'response.completed') return { type: 'done', usage: response.usage ?? null }
  if (event.type === 'response.incomplete') {
    const reason = response.incomplete_details?.reason ?? 'unknown'
    return {
      type: 'error',
      code: 'response_incomplete',
      message: `The answer is incomplete (${reason}).`,
    }
  }
  return { type: 'error', code: 'response_failed', message: 'The model could not answer.' }
}

/**
 * Runs a turn as one Responses request to the Codex backend.
 *
 * @example
 * const runner = new DirectRunner({ tokens, backend: new CodexBackend({ backendBase, identity }) })
 * for await (const event of runner.run({ accountId, prompt: 'Say hi', signal })) console.log(event)
 * @see PROTOCOL.md §7
 */
export class DirectRunner implements Runner {
  readonly kind = 'direct'
  readonly #tokens: TokenManager
  readonly #backend: CodexBackend
  readonly #defaultModel: string
  readonly #instructions: string

  constructor(options: DirectRunnerOptions) {
    this.#tokens = options.tokens
    this.#backend = options.backend
    this.#defaultModel = options.defaultModel ?? DEFAULT_DIRECT_MODEL
    this.#instructions = options.instructions ?? DEFAULT_DIRECT_INSTRUCTIONS
  }

  async *run(input: RunInput): AsyncGenerator<RunEvent, void, undefined> {
    let answer: UpstreamResponse | null = null
    let finished = false
    try {
      answer = await this.#open(input)
      const events = answer.events()
      for (;;) {
        const next = await events.next()
        if (next.done === true) {
          finished = true
          yield terminalRunEvent(next.value)
          return
        }
        const event = next.value
        if (isTerminalEvent(event)) {
          finished = true
          yield terminalRunEvent(event)
          return
        }
        if (event.type === 'response.output_text.delta' && event.delta !== '') {
          yield { type: 'text', delta: event.delta }
        }
      }
    } catch (error) {
      yield runErrorFrom(error, input.signal)
    } finally {
      // Stopped before the terminal event (the caller left, or the stream broke): close the connection.
      if (!finished) answer?.discard()
    }
  }

  async #open(input: RunInput): Promise<UpstreamResponse> {
    const { accountId, signal } = input
    const body = {
      model: input.model ?? this.#defaultModel,
      instructions: this.#instructions,
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: input.prompt }] },
      ],
      stream: true,
      store: false,
    }
    const granted = await this.#tokens.getAccessToken(accountId, { signal })
    try {
      return await this.#backend.createResponse({ credentials: granted, body, signal })
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.details.recovery !== 'refresh') throw error
      const recovered = await this.#tokens.recoverUnauthorized(accountId, granted.accessToken, {
        signal,
      })
      return this.#backend.createResponse({ credentials: recovered, body, signal })
    }
  }
}
