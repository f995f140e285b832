/**
 * Renders an `Answer` as the Responses API stream of PROTOCOL.md §7 — each event one ready-to-write SSE frame,
 * `event: <type>\ndata: <json with the same "type" and a "sequence_number">\n\n` — and as the final response
 * object a non-streamed request gets. JSON is assembled from pieces serialised once (the answer text appears in
 * four events and the final object; it is stringified once), which keeps the benchmark's upstream cheap. The
 * response object does not echo `instructions` or `tools`, which the real one does; no client reads them back.
 */
import type { Answer } from './answer.js'

/** The frames of a stream, and where a `cut` fault stops it (mid-way through the main output's deltas). */
export interface RenderedStream {
  frames: string[]
  /** Number of frames to send before cutting the connection: never the terminal event. */
  cutAfter: number
}

const EMPTY_TEXT_PART = '{"type":"output_text","annotations":[],"logprobs":[],"text":""}'

/** The SSE frames of `answer`, from `response.created` to `response.completed`. */
export function renderStream(answer: Answer): RenderedStream {
  const items = renderItems(answer)
  const frames: string[] = []
  const push = (type: string, rest: string): void => {
    frames.push(
      `event: ${type}\ndata: {"type":"${type}","sequence_number":${frames.length},${rest}}\n\n`,
    )
  }
  const inProgress = responseJson(answer, 'in_progress', '[]', 'null')
  push('response.created', `"response":${inProgress}`)
  push('response.in_progress', `"response":${inProgress}`)

  let outputIndex = 0
  const { reasoning, output } = answer
  if (reasoning && items.reasoningDone !== null) {
    const at = `"item_id":"${reasoning.id}","output_index":${outputIndex},"summary_index":0`
    const summary = JSON.stringify(reasoning.summary)
    push(
      'response.output_item.added',
      `"output_index":${outputIndex},"item":{"id":"${reasoning.id}","type":"reasoning","summary":[]}`,
    )
    push('response.reasoning_summary_part.added', `${at},"part":{"type":"summary_text","text":""}`)
    for (const chunk of reasoning.summaryChunks) {
      push('response.reasoning_summary_text.delta', `${at},"delta":${JSON.stringify(chunk)}`)
    }
    push('response.reasoning_summary_text.done', `${at},"text":${summary}`)
    push(
      'response.reasoning_summary_part.done',
      `${at},"part":{"type":"summary_text","text":${summary}}`,
    )
    push('response.output_item.done', `"output_index":${outputIndex},"item":${items.reasoningDone}`)
    outputIndex += 1
  }

  const itemAt = `"item_id":"${output.id}","output_index":${outputIndex}`
  const half = Math.ceil(output.chunks.length / 2)
  let cutAfter = 0
  if (output.kind === 'message') {
    const contentAt = `${itemAt},"content_index":0`
    push(
      'response.output_item.added',
      `"output_index":${outputIndex},"item":{"id":"${output.id}","type":"message","status":"in_progress","content":[],"role":"assistant"}`,
    )
    push('response.content_part.added', `${contentAt},"part":${EMPTY_TEXT_PART}`)
    output.chunks.forEach((chunk, index) => {
      push(
        'response.output_text.delta',
        `${contentAt},"delta":${JSON.stringify(chunk)},"logprobs":[]`,
      )
      if (index + 1 === half) cutAfter = frames.length
    })
    push('response.output_text.done', `${contentAt},"text":${items.mainText},"logprobs":[]`)
    push('response.content_part.done', `${contentAt},"part":${items.textPart}`)
  } else {
    push(
      'response.output_item.added',
      `"output_index":${outputIndex},"item":{"id":"${output.id}","type":"function_call","status":"in_progress","arguments":"","call_id":"${output.callId}","name":${JSON.stringify(output.name)}}`,
    )
    output.chunks.forEach((chunk, index) => {
      push('response.function_call_arguments.delta', `${itemAt},"delta":${JSON.stringify(chunk)}`)
      if (index + 1 === half) cutAfter = frames.length
    })
    push(
      'response.function_call_arguments.done',
      `${itemAt},"name":${JSON.stringify(output.name)},"arguments":${items.mainText}`,
    )
  }
  push('response.output_item.done', `"output_index":${outputIndex},"item":${items.mainDone}`)
  push(
    'response.completed',
    `"response":${responseJson(answer, 'completed', items.output, usageJson(answer))}`,
  )
  return { frames, cutAfter }
}

/** The completed response object as JSON text: the body of a non-streamed `/v1/responses`. */
export function renderCompletedResponse(answer: Answer): string {
  return responseJson(answer, 'completed', renderItems(answer).output, usageJson(answer))
}

interface RenderedItems {
  /** The finished reasoning item, when there is one. */
  reasoningDone: string | null
  /** The main output's text (message) or arguments (call), as a JSON string literal. */
  mainText: string
  /** The finished `output_text` part (message only). */
  textPart: string
  /** The finished main item. */
  mainDone: string
  /** The `output` array of the completed response. */
  output: string
}

function renderItems(answer: Answer): RenderedItems {
  const { reasoning, output } = answer
  let reasoningDone: string | null = null
  if (reasoning) {
    const encrypted =
      reasoning.encryptedContent === null
        ? ''
        : `,"encrypted_content":${JSON.stringify(reasoning.encryptedContent)}`
    reasoningDone = `{"id":"${reasoning.id}","type":"reasoning","summary":[{"type":"summary_text","text":${JSON.stringify(reasoning.summary)}}]${encrypted}}`
  }
  let mainText: string
  let textPart = ''
  let mainDone: string
  if (output.kind === 'message') {
    mainText = JSON.stringify(output.text)
    textPart = `{"type":"output_text","annotations":[],"logprobs":[],"text":${mainText}}`
    mainDone = `{"id":"${output.id}","type":"message","status":"completed","content":[${textPart}],"role":"assistant"}`
  } else {
    mainText = JSON.stringify(output.arguments)
    mainDone = `{"id":"${output.id}","type":"function_call","status":"completed","arguments":${mainText},"call_id":"${output.callId}","name":${JSON.stringify(output.name)}}`
  }
  const outputJson = reasoningDone === null ? `[${mainDone}]` : `[${reasoningDone},${mainDone}]`
  return { reasoningDone, mainText, textPart, mainDone, output: outputJson }
}

function usageJson({ usage }: Answer): string {
  return `{"input_tokens":${usage.inputTokens},"input_tokens_details":{"cached_tokens":${usage.cachedTokens}},"output_tokens":${usage.outputTokens},"output_tokens_details":{"reasoning_tokens":${usage.reasoningTokens}},"total_tokens":${usage.totalTokens}}`
}

function responseJson(
  answer: Answer,
  status: 'in_progress' | 'completed',
  output: string,
  usage: string,
): string {
  return `{"id":"${answer.responseId}","object":"response","created_at":${answer.createdAt},"status":"${status}","background":false,"error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":${JSON.stringify(answer.model)},"output":${output},"parallel_tool_calls":true,"previous_response_id":null,"reasoning":${JSON.stringify(answer.reasoningParams)},"store":${answer.store},"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"truncation":"disabled","usage":${usage},"metadata":{}}`
}
