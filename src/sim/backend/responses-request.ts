/**
 * Reading a Responses API request body, shared by the Codex route and the API-key route: the fields the
 * simulator answers from (model, the last user text, reasoning, function tools, the prompt-cache key) and the
 * size of the prompt for token counts. Checked by hand rather than with a schema because this is the benchmark's
 * hot path and the body is read once; each route turns a `ResponsesRequestError` into its own error shape
 * (FastAPI `detail` on the backend, an OpenAI `error` object on the API).
 */

/** A request the simulator can answer. */
export interface ResponsesRequest {
  model: string
  /** `stream` as sent (`undefined` when absent). */
  stream: unknown
  /** `store` as sent (`undefined` when absent). */
  store: unknown
  /** Text of the newest user message; what the answer echoes. */
  userText: string
  /** The input ends with a tool's output (`function_call_output`): the model answers it rather than calling again. */
  endsWithToolOutput: boolean
  /** Characters of instructions and input text: the basis of `input_tokens`. */
  promptChars: number
  /** The `reasoning` object, when one was sent. */
  reasoning: { effort: string | null; summary: string | null } | null
  /** Names of the function tools offered. */
  functionTools: readonly string[]
  promptCacheKey: string | null
  /** `include` entries, e.g. `reasoning.encrypted_content`. */
  include: readonly string[]
}

/** The request is malformed; `param` names the offending field. */
export class ResponsesRequestError extends Error {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message)
    this.name = 'ResponsesRequestError'
  }
}

/** Parses the raw body text. */
export function parseResponsesRequest(text: string): ResponsesRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ResponsesRequestError('The request body is not valid JSON.', null)
  }
  if (!isObject(parsed)) {
    throw new ResponsesRequestError('The request body must be a JSON object.', null)
  }
  const { model, input, instructions, tools, reasoning, prompt_cache_key, include } = parsed
  if (typeof model !== 'string' || model === '') {
    throw new ResponsesRequestError("Missing required parameter: 'model'.", 'model')
  }
  if (instructions !== undefined && instructions !== null && typeof instructions !== 'string') {
    throw new ResponsesRequestError(
      "Invalid type for 'instructions': expected a string.",
      'instructions',
    )
  }
  const prompt = readInput(input)
  return {
    model,
    stream: parsed.stream,
    store: parsed.store,
    userText: prompt.userText,
    endsWithToolOutput: prompt.endsWithToolOutput,
    promptChars: prompt.chars + (typeof instructions === 'string' ? instructions.length : 0),
    reasoning: readReasoning(reasoning),
    functionTools: readFunctionTools(tools),
    promptCacheKey: typeof prompt_cache_key === 'string' ? prompt_cache_key : null,
    include: Array.isArray(include)
      ? include.filter((entry): entry is string => typeof entry === 'string')
      : [],
  }
}

function readInput(input: unknown): {
  userText: string
  chars: number
  endsWithToolOutput: boolean
} {
  if (input === undefined || input === null) {
    return { userText: '', chars: 0, endsWithToolOutput: false }
  }
  if (typeof input === 'string') {
    return { userText: input, chars: input.length, endsWithToolOutput: false }
  }
  if (!Array.isArray(input)) {
    throw new ResponsesRequestError(
      "Invalid type for 'input': expected a string or an array of input items.",
      'input',
    )
  }
  let userText = ''
  let chars = 0
  for (const [index, item] of input.entries()) {
    if (!isObject(item)) {
      throw new ResponsesRequestError(
        `Invalid type for 'input[${index}]': expected an object.`,
        `input[${index}]`,
      )
    }
    const text = itemText(item)
    chars += text.length
    // Only messages (typed `message` or untyped easy input) from the user are what a person "said".
    if (item.role === 'user' && (item.type === undefined || item.type === 'message')) {
      userText = text
    }
  }
  const last: unknown = input.at(-1)
  const endsWithToolOutput = isObject(last) && last.type === 'function_call_output'
  return { userText, chars, endsWithToolOutput }
}

/** The text an input item carries: message content, a tool's output, or call arguments. */
function itemText(item: Record<string, unknown>): string {
  const { content, output, arguments: args } = item
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    const parts: string[] = []
    for (const part of content) {
      if (isObject(part) && typeof part.text === 'string') parts.push(part.text)
    }
    return parts.join('\n')
  }
  if (typeof output === 'string') return output
  if (typeof args === 'string') return args
  return ''
}

function readReasoning(reasoning: unknown): ResponsesRequest['reasoning'] {
  if (reasoning === undefined || reasoning === null) return null
  if (!isObject(reasoning)) {
    throw new ResponsesRequestError(
      "Invalid type for 'reasoning': expected an object.",
      'reasoning',
    )
  }
  return {
    effort: typeof reasoning.effort === 'string' ? reasoning.effort : null,
    summary: typeof reasoning.summary === 'string' ? reasoning.summary : null,
  }
}

function readFunctionTools(tools: unknown): string[] {
  if (tools === undefined || tools === null) return []
  if (!Array.isArray(tools)) {
    throw new ResponsesRequestError("Invalid type for 'tools': expected an array.", 'tools')
  }
  const names: string[] = []
  for (const tool of tools) {
    if (!isObject(tool) || tool.type !== 'function') continue
    // Responses tools are flat ({type, name}); Chat Completions nests them ({type, function: {name}}).
    const name = typeof tool.name === 'string' ? tool.name : nestedName(tool.function)
    if (name !== null) names.push(name)
  }
  return names
}

function nestedName(fn: unknown): string | null {
  return isObject(fn) && typeof fn.name === 'string' ? fn.name : null
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
