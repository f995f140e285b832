/**
 * Chat Completions request → Responses request (PROTOCOL.md §7: the ChatGPT Codex backend speaks only the
 * Responses API). The body is validated with zod; a field of the wrong shape is `ERR_INVALID_REQUEST` (400)
 * whose message names it (`messages[2].tool_calls[0].function.name`). Fields this layer does not know are
 * ignored (`frequency_penalty`, `seed`, `logprobs`, `metadata`, …); `n` other than 1 is refused.
 *
 * | Chat Completions                                   | Responses                                                     |
 * | -------------------------------------------------- | ------------------------------------------------------------- |
 * | `model`                                            | `model`                                                       |
 * | `system` / `developer` messages                    | `instructions`, joined by a blank line (`systemAs:'instructions'`, default) or `developer` message items in place (`systemAs:'developer'`) |
 * | `user` message, string or `text` parts             | `message` item, role `user`, `input_text` parts               |
 * | `user` `image_url` part                            | `input_image` part (`image_url`, `detail`, default `auto`)    |
 * | `assistant` message content (string/text/refusal)  | `message` item, role `assistant`, `output_text` parts         |
 * | `assistant` `tool_calls[]`                         | one `function_call` item each (`call_id` = id, `name`, `arguments`) |
 * | `tool` message (`tool_call_id`, content)           | `function_call_output` item (`call_id`, `output` text)        |
 * | `tools[]` `{type:'function', function:{…}}`        | `{type:'function', name, description, parameters, strict}`    |
 * | `tool_choice` `none`/`auto`/`required`             | same string                                                   |
 * | `tool_choice` `{type:'function', function:{name}}` | `{type:'function', name}`                                     |
 * | `parallel_tool_calls`                              | `parallel_tool_calls`                                         |
 * | `reasoning_effort`                                 | `reasoning: {effort}`                                         |
 * | `response_format` `text`/`json_object`             | `text: {format: {type}}`                                      |
 * | `response_format` `json_schema`                    | `text: {format: {type:'json_schema', name, schema, strict, description}}` |
 * | `max_completion_tokens` (else `max_tokens`)        | `max_output_tokens` — dropped with `dropUnsupported`          |
 * | `temperature`, `top_p`                             | same — dropped with `dropUnsupported`                         |
 * | `user`                                             | `user` — dropped with `dropUnsupported`                       |
 * | `stream`, `stream_options`                         | `stream` = `forceStream \|\| stream`; `include_usage` is the stream translator's business |
 * | —                                                  | `store: false` always                                         |
 *
 * `dropUnsupported` is for the ChatGPT backend, which refuses sampling and length parameters that the public
 * API accepts; for the API-key upstream leave it off so they reach the model.
 */
import { z } from 'zod'
import { BrokerError } from '../../lib/index.js'

const textPart = z.object({ type: z.literal('text'), text: z.string() })
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().min(1),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
})
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() })

const textContent = z.union([z.string(), z.array(textPart)])

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
})

const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: textContent }),
  z.object({ role: z.literal('developer'), content: textContent }),
  z.object({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart]))]),
  }),
  z.object({
    role: z.literal('assistant'),
    content: z
      .union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))])
      .nullish(),
    refusal: z.string().nullish(),
    tool_calls: z.array(toolCall).nullish(),
  }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string().min(1), content: textContent }),
])

const functionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
})

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
])

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
])

const chatRequest = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  tools: z.array(functionTool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
  user: z.string().nullish(),
  response_format: responseFormat.nullish(),
  n: z.literal(1).nullish(),
})

/** A validated Chat Completions request. */
export type ChatCompletionRequest = z.output<typeof chatRequest>

/** A content part of a Responses message item. */
export type ResponsesContentPart =
  | { type: 'input_text'; text: string }
  | { type: 'input_image'; image_url: string; detail: 'auto' | 'low' | 'high' }
  | { type: 'output_text'; text: string }

/** One item of a Responses `input`. */
export type ResponsesInputItem =
  | {
      type: 'message'
      role: 'user' | 'assistant' | 'developer'
      content: ResponsesContentPart[]
    }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string }

/** A Responses function tool (flat, unlike the nested Chat Completions one). */
export interface ResponsesFunctionTool {
  type: 'function'
  name: string
  description?: string
  parameters?: Record<string, unknown>
  strict?: boolean
}

/** The Responses `tool_choice`. */
export type ResponsesToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; name: string }

/** The Responses `text.format`. */
export type ResponsesTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema'
      name: string
      description?: string
      schema?: Record<string, unknown>
      strict?: boolean
    }

/** The Responses request body this layer builds. */
export interface ResponsesRequest {
  model: string
  instructions?: string
  input: ResponsesInputItem[]
  tools?: ResponsesFunctionTool[]
  tool_choice?: ResponsesToolChoice
  parallel_tool_calls?: boolean
  reasoning?: { effort: string }
  text?: { format: ResponsesTextFormat }
  max_output_tokens?: number
  temperature?: number
  top_p?: number
  user?: string
  store: false
  stream: boolean
}

/** Options of {@link chatToResponsesRequest}. */
export interface ChatToResponsesOptions {
  /** Stream from the upstream whatever the client asked (the ChatGPT backend streams only). */
  forceStream: boolean
  /** Drop `max_output_tokens`, `temperature`, `top_p` and `user`, which the ChatGPT backend refuses. */
  dropUnsupported?: boolean
  /** Where system/developer messages go: `instructions` (default) or `developer` input items in place. */
  systemAs?: 'instructions' | 'developer'
}

/**
 * Validates a Chat Completions body and translates it to a Responses request (see the table atop this module).
 * @throws {BrokerError} `ERR_INVALID_REQUEST` naming the offending field.
 * @example
 * const request = chatToResponsesRequest(body, { forceStream: true, dropUnsupported: true })
 */
export function chatToResponsesRequest(
  body: unknown,
  options: ChatToResponsesOptions,
): ResponsesRequest {
  const parsed = chatRequest.safeParse(body)
  if (!parsed.success) throw invalid(parsed.error)
  const chat = parsed.data
  const systemAs = options.systemAs ?? 'instructions'
  const instructions: string[] = []
  const input: ResponsesInputItem[] = []
  for (const msg of chat.messages) {
    switch (msg.role) {
      case 'system':
      case 'developer':
        if (systemAs === 'instructions') instructions.push(textOf(msg.content))
        else input.push(textMessage('developer', 'input_text', textOf(msg.content)))
        break
      case 'user':
        input.push({ type: 'message', role: 'user', content: userParts(msg.content) })
        break
      case 'assistant': {
        const text = assistantText(msg.content, msg.refusal)
        if (text !== '') input.push(textMessage('assistant', 'output_text', text))
        for (const call of msg.tool_calls ?? []) {
          input.push({
            type: 'function_call',
            call_id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
          })
        }
        break
      }
      case 'tool':
        input.push({
          type: 'function_call_output',
          call_id: msg.tool_call_id,
          output: textOf(msg.content),
        })
        break
    }
  }

  const request: ResponsesRequest = {
    model: chat.model,
    input,
    store: false,
    stream: options.forceStream || chat.stream === true,
  }
  if (instructions.length > 0) request.instructions = instructions.join('\n\n')
  if (chat.tools && chat.tools.length > 0) request.tools = chat.tools.map(toResponsesTool)
  if (chat.tool_choice) request.tool_choice = toToolChoice(chat.tool_choice)
  if (chat.parallel_tool_calls != null) request.parallel_tool_calls = chat.parallel_tool_calls
  if (chat.reasoning_effort) request.reasoning = { effort: chat.reasoning_effort }
  if (chat.response_format) request.text = { format: toTextFormat(chat.response_format) }
  if (options.dropUnsupported !== true) {
    const maxTokens = chat.max_completion_tokens ?? chat.max_tokens
    if (maxTokens != null) request.max_output_tokens = maxTokens
    if (chat.temperature != null) request.temperature = chat.temperature
    if (chat.top_p != null) request.top_p = chat.top_p
    if (chat.user != null) request.user = chat.user
  }
  return request
}

type TextContent = z.output<typeof textContent>
type UserContent = Extract<ChatCompletionRequest['messages'][number], { role: 'user' }>['content']
type AssistantContent = Extract<
  ChatCompletionRequest['messages'][number],
  { role: 'assistant' }
>['content']

function textOf(content: TextContent): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('')
}

function textMessage(
  role: 'developer' | 'assistant',
  type: 'input_text' | 'output_text',
  text: string,
): ResponsesInputItem {
  return { type: 'message', role, content: [{ type, text }] }
}

function userParts(content: UserContent): ResponsesContentPart[] {
  if (typeof content === 'string') return [{ type: 'input_text', text: content }]
  return content.map((part) =>
    part.type === 'text'
      ? { type: 'input_text', text: part.text }
      : {
          type: 'input_image',
          image_url: part.image_url.url,
          detail: part.image_url.detail ?? 'auto',
        },
  )
}

function assistantText(content: AssistantContent, refusal: string | null | undefined): string {
  if (content == null) return refusal ?? ''
  if (typeof content === 'string') return content
  return content.map((part) => (part.type === 'text' ? part.text : part.refusal)).join('')
}

function toResponsesTool(tool: z.output<typeof functionTool>): ResponsesFunctionTool {
  const fn = tool.function
  const out: ResponsesFunctionTool = { type: 'function', name: fn.name }
  if (fn.description !== undefined) out.description = fn.description
  if (fn.parameters !== undefined) out.parameters = fn.parameters
  if (fn.strict != null) out.strict = fn.strict
  return out
}

function toToolChoice(choice: z.output<typeof toolChoice>): ResponsesToolChoice {
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.function.name }
}

function toTextFormat(format: z.output<typeof responseFormat>): ResponsesTextFormat {
  if (format.type !== 'json_schema') return { type: format.type }
  const spec = format.json_schema
  const out: ResponsesTextFormat = { type: 'json_schema', name: spec.name }
  if (spec.description !== undefined) out.description = spec.description
  if (spec.schema !== undefined) out.schema = spec.schema
  if (spec.strict != null) out.strict = spec.strict
  return out
}

/** `messages[2].content` from a zod path. */
function fieldName(path: readonly PropertyKey[]): string {
  let name = ''
  for (const key of path) {
    if (typeof key === 'number') name += `[${String(key)}]`
    else name += name === '' ? String(key) : `.${String(key)}`
  }
  return name === '' ? 'body' : name
}

function invalid(error: z.ZodError): BrokerError {
  const first = error.issues[0]
  const field = first ? fieldName(first.path) : 'body'
  const detail = first ? first.message : 'invalid'
  return new BrokerError(
    'ERR_INVALID_REQUEST',
    `Invalid chat completion request: '${field}': ${detail}.`,
    {
      hint: 'Send an OpenAI Chat Completions request body.',
    },
  )
}
