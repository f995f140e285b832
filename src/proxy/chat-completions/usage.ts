/**
 * Shared pieces of the Responses → Chat Completions direction: the usage block (`input_tokens` →
 * `prompt_tokens`, `input_tokens_details.cached_tokens` → `prompt_tokens_details.cached_tokens`, `output_tokens`
 * → `completion_tokens`, `output_tokens_details.reasoning_tokens` → `completion_tokens_details.reasoning_tokens`),
 * the finish reason of a finished response, and the `BrokerError` a failed response becomes.
 */
import { BrokerError } from '../../lib/index.js'
import type { ChatFinishReason, ChatUsage } from './types.js'

/** The Responses `usage` fields this module reads. */
export interface ResponsesUsageLike {
  input_tokens: number
  output_tokens: number
  total_tokens: number
  input_tokens_details?: { cached_tokens: number } | null | undefined
  output_tokens_details?: { reasoning_tokens: number } | null | undefined
}

/** Maps a Responses `usage` object to the Chat Completions one (absent details count as 0). */
export function toChatUsage(usage: ResponsesUsageLike): ChatUsage {
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
    prompt_tokens_details: { cached_tokens: usage.input_tokens_details?.cached_tokens ?? 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
    },
  }
}

/**
 * The finish reason of a response that ended: `tool_calls` when it called a function, `content_filter` or
 * `length` when it is incomplete for that reason (any other incomplete reason, such as `max_output_tokens`,
 * is `length`), else `stop`.
 */
export function finishReasonOf(
  status: string | null | undefined,
  incompleteReason: string | null | undefined,
  hasToolCalls: boolean,
): ChatFinishReason {
  if (status === 'incomplete')
    return incompleteReason === 'content_filter' ? 'content_filter' : 'length'
  return hasToolCalls ? 'tool_calls' : 'stop'
}

/** The longest upstream message repeated in the error. */
const MAX_MESSAGE = 300

/**
 * The error a failed response (`response.failed`, an `error` event, or a non-streamed response with status
 * `failed`) becomes: `ERR_UPSTREAM_RATE_LIMITED` for a rate-limit or quota code, else
 * `ERR_UPSTREAM_BAD_RESPONSE`; the message names the upstream code and repeats its message (at most 300
 * characters, redacted by `BrokerError`). The proxy reports it as it reports any `BrokerError` — before the first byte as an HTTP error,
 * after it as a final SSE `error` frame.
 */
export function upstreamFailure(
  code: string | null | undefined,
  message: string | null | undefined,
): BrokerError {
  const label = code ?? 'unknown'
  // The model-facing message is meant for the client; cap it so a runaway body cannot ride along.
  const text = (message ?? 'no message').slice(0, MAX_MESSAGE)
  const limited = /rate_limit|quota|usage_limit/i.test(label)
  return new BrokerError(
    limited ? 'ERR_UPSTREAM_RATE_LIMITED' : 'ERR_UPSTREAM_BAD_RESPONSE',
    `The upstream response failed (${label}): ${text}`,
  )
}
