/**
 * Responses stream → Chat Completions stream. A {@link ChatStreamTranslator} is fed the typed events of one
 * upstream response (`responseEvents()` in src/upstream/response-events.ts) and answers the
 * `chat.completion.chunk` objects each one yields; {@link toSseLines} renders them for the wire.
 *
 * | Responses event                                   | Chunk(s)                                                      |
 * | ------------------------------------------------- | ------------------------------------------------------------- |
 * | first event of the stream                         | `delta: {role:'assistant', content:''}`                       |
 * | `response.output_text.delta`                      | `delta: {content}`                                            |
 * | `response.output_text.done`                       | the text not yet sent as deltas, if any                       |
 * | `response.output_item.added` (`function_call`)    | `delta.tool_calls[{index, id: call_id, type:'function', function:{name, arguments:''}}]` |
 * | `response.function_call_arguments.delta`          | `delta.tool_calls[{index, function:{arguments}}]`             |
 * | `response.function_call_arguments.done`           | the arguments not yet sent as deltas, if any                  |
 * | `response.reasoning_summary_text.delta`           | nothing, or `delta: {reasoning_content}` with `includeReasoning` (the DeepSeek/vLLM convention) |
 * | `response.completed` / `response.incomplete`      | `finish_reason` chunk (`tool_calls` / `length` / `content_filter` / `stop`), then with `includeUsage` a usage chunk with `choices: []` |
 * | `response.failed`, `error`                        | throws the `BrokerError` of `upstreamFailure()` (usage.ts)    |
 * | anything else                                     | nothing                                                       |
 *
 * Tool call indexes count the function calls of the response from 0, in the order they were added. Every
 * chunk shares one `id`, `created` and `model`; with `includeUsage` every chunk carries `usage: null` but the
 * usage chunk, as OpenAI sends it.
 */
import { randomUUID } from 'node:crypto'
import { BrokerError } from '../../lib/index.js'
import type { ResponseEvent } from '../../upstream/response-events.js'
import type {
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionDelta,
  ChatFinishReason,
  ChatUsage,
} from './types.js'
import { finishReasonOf, toChatUsage, upstreamFailure } from './usage.js'

/** Options of {@link ChatStreamTranslator}. */
export interface ChatStreamOptions {
  /** The `model` of every chunk (the model the client asked for). */
  model: string
  /** The `id` of every chunk; default `chatcmpl-<random>`. */
  id?: string
  /** The `created` of every chunk, Unix seconds; default now. */
  created?: number
  /** `stream_options.include_usage`: end with a usage chunk. */
  includeUsage: boolean
  /** Forward the reasoning summary as `delta.reasoning_content` (not part of the OpenAI API); default off. */
  includeReasoning?: boolean
}

/** The `data: [DONE]` sentinel that ends a Chat Completions stream. */
export const SSE_DONE = 'data: [DONE]\n\n'

/**
 * Renders chunks as SSE `data:` frames, followed by the `[DONE]` sentinel when `done`.
 * @example
 * response.write(toSseLines(translator.push(event)))
 * response.end(toSseLines(translator.finish(), true))
 */
export function toSseLines(chunks: readonly ChatCompletionChunk[], done = false): string {
  let out = ''
  for (const chunk of chunks) out += `data: ${JSON.stringify(chunk)}\n\n`
  return done ? out + SSE_DONE : out
}

interface ToolCallState {
  index: number
  sent: string
}

/**
 * Translates one Responses stream into Chat Completions chunks (see the table atop this module).
 * @example
 * const translator = new ChatStreamTranslator({ model: 'gpt-5', includeUsage: true })
 * for await (const event of responseEvents(body)) write(toSseLines(translator.push(event)))
 * write(toSseLines(translator.finish(), true))
 */
export class ChatStreamTranslator {
  readonly id: string
  readonly created: number
  readonly model: string
  readonly #includeUsage: boolean
  readonly #includeReasoning: boolean
  #started = false
  #ended = false
  readonly #calls = new Map<string, ToolCallState>()
  readonly #textSent = new Map<string, string>()

  constructor(options: ChatStreamOptions) {
    this.model = options.model
    this.id = options.id ?? `chatcmpl-${randomUUID().replaceAll('-', '')}`
    this.created = options.created ?? Math.floor(Date.now() / 1000)
    this.#includeUsage = options.includeUsage
    this.#includeReasoning = options.includeReasoning === true
  }

  /** True once a terminal event was translated. */
  get ended(): boolean {
    return this.#ended
  }

  /**
   * Translates one event. Events after the terminal one are ignored.
   * @throws {BrokerError} for `response.failed` or an `error` event (see `upstreamFailure`).
   */
  push(event: ResponseEvent): ChatCompletionChunk[] {
    if (this.#ended) return []
    if (event.type === 'response.failed') {
      this.#ended = true
      throw upstreamFailure(event.response.error?.code, event.response.error?.message)
    }
    if (event.type === 'error') {
      this.#ended = true
      throw upstreamFailure(event.code, event.message)
    }
    const out: ChatCompletionChunk[] = []
    if (!this.#started) {
      this.#started = true
      out.push(this.#chunk({ role: 'assistant', content: '' }))
    }
    switch (event.type) {
      case 'response.output_text.delta':
        this.#noteText(`${event.item_id}:${String(event.content_index)}`, event.delta)
        if (event.delta !== '') out.push(this.#chunk({ content: event.delta }))
        break
      case 'response.output_text.done': {
        const rest = this.#rest(`${event.item_id}:${String(event.content_index)}`, event.text)
        if (rest !== '') out.push(this.#chunk({ content: rest }))
        break
      }
      case 'response.reasoning_summary_text.delta':
        if (this.#includeReasoning && event.delta !== '') {
          out.push(this.#chunk({ reasoning_content: event.delta }))
        }
        break
      case 'response.output_item.added': {
        const { item } = event
        if (item.type !== 'function_call') break
        const key = item.id ?? `output_${String(event.output_index)}`
        const callId = typeof item.call_id === 'string' ? item.call_id : key
        const name = typeof item.name === 'string' ? item.name : ''
        const initial = typeof item.arguments === 'string' ? item.arguments : ''
        const state: ToolCallState = { index: this.#calls.size, sent: initial }
        this.#calls.set(key, state)
        out.push(
          this.#chunk({
            tool_calls: [
              {
                index: state.index,
                id: callId,
                type: 'function',
                function: { name, arguments: initial },
              },
            ],
          }),
        )
        break
      }
      case 'response.function_call_arguments.delta': {
        const state = this.#call(event.item_id)
        state.sent += event.delta
        if (event.delta !== '') out.push(this.#argsChunk(state.index, event.delta))
        break
      }
      case 'response.function_call_arguments.done': {
        const state = this.#call(event.item_id)
        if (event.arguments.startsWith(state.sent) && event.arguments.length > state.sent.length) {
          const rest = event.arguments.slice(state.sent.length)
          state.sent = event.arguments
          out.push(this.#argsChunk(state.index, rest))
        }
        break
      }
      case 'response.completed':
      case 'response.incomplete': {
        this.#ended = true
        const { response } = event
        const reason = finishReasonOf(
          response.status ?? (event.type === 'response.incomplete' ? 'incomplete' : 'completed'),
          response.incomplete_details?.reason,
          this.#calls.size > 0,
        )
        out.push(this.#chunk({}, reason))
        if (this.#includeUsage) {
          out.push(this.#usageChunk(response.usage ? toChatUsage(response.usage) : null))
        }
        break
      }
      default:
        break
    }
    return out
  }

  /**
   * Declares the upstream stream over; answers the chunks still owed (none: the terminal event already
   * produced them). Write `[DONE]` after these.
   * @throws {BrokerError} `ERR_STREAM_CUT` when no terminal event was pushed.
   */
  finish(): ChatCompletionChunk[] {
    if (!this.#ended) {
      this.#ended = true
      throw new BrokerError(
        'ERR_STREAM_CUT',
        'The upstream stream ended before the response completed.',
        { hint: 'Retry the request; nothing after the cut was received.' },
      )
    }
    return []
  }

  #noteText(key: string, delta: string): void {
    this.#textSent.set(key, (this.#textSent.get(key) ?? '') + delta)
  }

  #rest(key: string, full: string): string {
    const sent = this.#textSent.get(key) ?? ''
    this.#textSent.set(key, full)
    return full.startsWith(sent) ? full.slice(sent.length) : ''
  }

  #call(itemId: string): ToolCallState {
    const state = this.#calls.get(itemId)
    if (state === undefined) {
      throw new BrokerError(
        'ERR_UPSTREAM_BAD_RESPONSE',
        'The upstream sent function call arguments for an item it never added.',
      )
    }
    return state
  }

  #argsChunk(index: number, piece: string): ChatCompletionChunk {
    return this.#chunk({ tool_calls: [{ index, function: { arguments: piece } }] })
  }

  #base(choices: ChatCompletionChunkChoice[]): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
    }
    if (this.#includeUsage) chunk.usage = null
    return chunk
  }

  #chunk(
    delta: ChatCompletionDelta,
    finishReason: ChatFinishReason | null = null,
  ): ChatCompletionChunk {
    return this.#base([{ index: 0, delta, finish_reason: finishReason, logprobs: null }])
  }

  #usageChunk(usage: ChatUsage | null): ChatCompletionChunk {
    const chunk = this.#base([])
    chunk.usage = usage
    return chunk
  }
}
