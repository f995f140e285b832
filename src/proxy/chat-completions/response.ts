/**
 * Responses response object → non-streamed `chat.completion`. The input is the `response` of
 * `response.completed` (or `response.incomplete`), or the body of a non-streamed Responses call; it is checked
 * loosely with zod (the fields read are typed, the rest ignored).
 *
 * | Responses                                          | Chat Completions                                  |
 * | -------------------------------------------------- | ------------------------------------------------- |
 * | `message` items' `output_text` parts               | `message.content`, concatenated (`null` if none)  |
 * | `message` items' `refusal` parts                   | `message.refusal`                                 |
 * | `function_call` items                              | `message.tool_calls[]` (`id` = `call_id`)         |
 * | `reasoning` items' summary text                    | `message.reasoning_content` with `includeReasoning`, else dropped |
 * | `status` / `incomplete_details.reason`             | `finish_reason` (see `finishReasonOf`)            |
 * | `status: 'failed'`                                 | throws the `BrokerError` of `upstreamFailure()`   |
 * | `usage`                                            | `usage` (see `toChatUsage`)                       |
 * | `created_at`                                       | `created` (unless given)                          |
 * | `id` `resp_X`                                      | `id` `chatcmpl-X` (unless given)                  |
 */
import { z } from 'zod'
import { BrokerError } from '../../lib/index.js'
import { responseUsageSchema } from '../../upstream/index.js'
import type { ChatCompletion, ChatCompletionMessage, ChatToolCall } from './types.js'
import { finishReasonOf, toChatUsage, upstreamFailure } from './usage.js'

const outputItem = z.looseObject({
  type: z.string(),
  content: z.array(z.looseObject({ type: z.string() })).nullish(),
  summary: z.array(z.looseObject({ type: z.string() })).nullish(),
  call_id: z.string().nullish(),
  name: z.string().nullish(),
  arguments: z.string().nullish(),
})

const responseSchema = z.looseObject({
  id: z.string(),
  created_at: z.number().nullish(),
  status: z.string().nullish(),
  output: z.array(outputItem).nullish(),
  usage: responseUsageSchema.nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
})

/** Options of {@link responsesToChatCompletion}. */
export interface ChatCompletionOptions {
  /** The `model` to report (the model the client asked for). */
  model: string
  /** The completion `id`; default derived from the response id. */
  id?: string
  /** `created`, Unix seconds; default the response's `created_at`, else now. */
  created?: number
  /** Put the reasoning summary in `message.reasoning_content`; default off. */
  includeReasoning?: boolean
}

/**
 * Translates a finished Responses response to a `chat.completion`.
 * @throws {BrokerError} `ERR_UPSTREAM_BAD_RESPONSE` when it is not a response object; the error of
 * `upstreamFailure()` when its status is `failed`.
 * @example
 * const completion = responsesToChatCompletion(completed.response, { model: body.model })
 */
export function responsesToChatCompletion(
  response: unknown,
  options: ChatCompletionOptions,
): ChatCompletion {
  const parsed = responseSchema.safeParse(response)
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The upstream response object is malformed (${fields}).`,
    )
  }
  const res = parsed.data
  if (res.status === 'failed') throw upstreamFailure(res.error?.code, res.error?.message)

  let content: string | null = null
  let refusal: string | null = null
  let reasoning = ''
  const toolCalls: ChatToolCall[] = []
  for (const item of res.output ?? []) {
    if (item.type === 'message') {
      for (const part of item.content ?? []) {
        if (part.type === 'output_text' && typeof part.text === 'string') {
          content = (content ?? '') + part.text
        } else if (part.type === 'refusal' && typeof part.refusal === 'string') {
          refusal = (refusal ?? '') + part.refusal
        }
      }
    } else if (item.type === 'function_call') {
      toolCalls.push({
        id:
          item.call_id ??
          (typeof item.id === 'string' ? item.id : `call_${String(toolCalls.length)}`),
        type: 'function',
        function: { name: item.name ?? '', arguments: item.arguments ?? '' },
      })
    } else if (item.type === 'reasoning') {
      for (const part of item.summary ?? []) {
        if (typeof part.text === 'string') reasoning += (reasoning === '' ? '' : '\n\n') + part.text
      }
    }
  }

  const message: ChatCompletionMessage = { role: 'assistant', content, refusal }
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  if (options.includeReasoning === true && reasoning !== '') message.reasoning_content = reasoning

  const completion: ChatCompletion = {
    id: options.id ?? `chatcmpl-${res.id.replace(/^resp_/, '')}`,
    object: 'chat.completion',
    created: options.created ?? res.created_at ?? Math.floor(Date.now() / 1000),
    model: options.model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: finishReasonOf(
          res.status,
          res.incomplete_details?.reason,
          toolCalls.length > 0,
        ),
        logprobs: null,
      },
    ],
  }
  if (res.usage) completion.usage = toChatUsage(res.usage)
  return completion
}
