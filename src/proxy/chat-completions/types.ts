/**
 * The OpenAI Chat Completions shapes this layer produces: the non-streamed `chat.completion` object and the
 * streamed `chat.completion.chunk` objects, with the `usage` block both share. Only the fields the translation
 * fills are declared; `logprobs` is always `null` (the Responses stream of the ChatGPT backend carries none).
 */

/** Why generation stopped, as Chat Completions names it. */
export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

/** Token usage in Chat Completions terms. */
export interface ChatUsage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details: { cached_tokens: number }
  completion_tokens_details: { reasoning_tokens: number }
}

/** One complete tool call of an assistant message. */
export interface ChatToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

/** The assistant message of a non-streamed completion. */
export interface ChatCompletionMessage {
  role: 'assistant'
  content: string | null
  refusal: string | null
  tool_calls?: ChatToolCall[]
  /** The reasoning summary, only when asked for (`includeReasoning`). */
  reasoning_content?: string
}

/** A non-streamed `chat.completion` object. */
export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: [
    {
      index: 0
      message: ChatCompletionMessage
      finish_reason: ChatFinishReason
      logprobs: null
    },
  ]
  usage?: ChatUsage
}

/** A piece of one tool call in a stream: the first piece has `id`, `type` and `function.name`. */
export interface ChatToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function: { name?: string; arguments: string }
}

/** What one chunk adds to the assistant message. */
export interface ChatCompletionDelta {
  role?: 'assistant'
  content?: string
  /** The reasoning summary text, only when asked for (`includeReasoning`). */
  reasoning_content?: string
  tool_calls?: ChatToolCallDelta[]
}

/** The one choice of a chunk. */
export interface ChatCompletionChunkChoice {
  index: 0
  delta: ChatCompletionDelta
  finish_reason: ChatFinishReason | null
  logprobs: null
}

/**
 * A streamed `chat.completion.chunk`. With `stream_options.include_usage`, every chunk has `usage: null` except
 * the last one before `[DONE]`, which has the usage and an empty `choices` (as OpenAI sends it).
 */
export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: ChatCompletionChunkChoice[]
  usage?: ChatUsage | null
}
