/**
 * `POST /v1/chat/completions`: a Chat Completions request translated to the Responses API, sent upstream as a
 * stream (the ChatGPT backend streams only), and translated back — as `chat.completion.chunk` SSE frames ending
 * with `data: [DONE]` when the client asked `stream: true`, else as one `chat.completion` object. The upstream is
 * opened exactly as for the Responses route (`exchangeUpstream`: one 401 recovery, client disconnect aborts).
 * A failure after the first byte cannot change the status any more: it becomes one SSE
 * `data: {"error":{"code","message"}}` frame, then the response ends.
 */
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { isBrokerError } from '../lib/index.js'
import type { UpstreamResponse } from '../upstream/index.js'
import {
  ChatStreamTranslator,
  chatToResponsesRequest,
  responsesToChatCompletion,
  SSE_DONE,
  toSseLines,
  type ResponsesRequest,
} from './chat-completions/index.js'
import { refusal, refusalForError, sendRefusal } from './proxy-error.js'
import {
  collectTerminal,
  affinityHints,
  exchangeUpstream,
  parseJsonObject,
  type UpstreamRouteContext,
} from './upstream-exchange.js'

/**
 * Serves one Chat Completions request whose body has been read.
 * @example
 * await serveChatCompletions(res, body, { upstream, logger })
 */
export async function serveChatCompletions(
  res: ServerResponse,
  body: Buffer,
  context: UpstreamRouteContext,
): Promise<void> {
  const parsed = parseJsonObject(body)
  if (parsed === null) {
    sendRefusal(res, refusal(400, 'invalid_json', 'The body must be a JSON object.'))
    return
  }
  let request: ResponsesRequest
  try {
    request = chatToResponsesRequest(parsed, {
      forceStream: true,
      dropUnsupported: context.upstream.kind !== 'openai',
    })
  } catch (error) {
    if (isBrokerError(error) && error.code === 'ERR_INVALID_REQUEST') {
      sendRefusal(res, refusal(400, 'invalid_request', error.message))
      return
    }
    throw error
  }
  const wantsStream = parsed.stream === true
  const includeUsage = includeUsageOf(parsed.stream_options)
  await exchangeUpstream(
    res,
    context,
    JSON.stringify(request),
    (answer, signal) =>
      wantsStream
        ? streamChunks(
            res,
            answer,
            signal,
            new ChatStreamTranslator({ model: request.model, includeUsage }),
          )
        : answerCompletion(res, answer, request.model),
    affinityHints(parsed, context.sessionId),
  )
}

/** `stream_options.include_usage` of a validated body. */
function includeUsageOf(options: unknown): boolean {
  return (
    typeof options === 'object' &&
    options !== null &&
    (options as { include_usage?: unknown }).include_usage === true
  )
}

/** Writes `text`, waiting for `drain` when the socket buffer is full. */
async function write(res: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  if (!res.write(text)) await once(res, 'drain', { signal })
}

/** Translates the upstream events to chunks as they arrive, with backpressure. */
async function streamChunks(
  res: ServerResponse,
  answer: UpstreamResponse,
  signal: AbortSignal,
  translator: ChatStreamTranslator,
): Promise<void> {
  res.statusCode = 200
  res.setHeader('content-type', 'text/event-stream')
  res.setHeader('cache-control', 'no-store')
  res.flushHeaders()
  try {
    for await (const event of answer.events()) {
      const chunks = translator.push(event)
      if (chunks.length > 0) await write(res, toSseLines(chunks), signal)
    }
    const rest = translator.finish()
    if (rest.length > 0) await write(res, toSseLines(rest), signal)
    await write(res, SSE_DONE, signal)
  } catch (error) {
    if (signal.aborted) throw error
    const { code, message } = refusalForError(error)
    res.write(`data: ${JSON.stringify({ error: { code, message } })}\n\n`)
  } finally {
    answer.discard()
  }
  res.end()
}

/** Collects the stream and answers one `chat.completion`. */
async function answerCompletion(
  res: ServerResponse,
  answer: UpstreamResponse,
  model: string,
): Promise<void> {
  const terminal = await collectTerminal(answer)
  const text = JSON.stringify(responsesToChatCompletion(terminal.response, { model }))
  res.statusCode = 200
  res.setHeader('content-type', 'application/json')
  res.setHeader('cache-control', 'no-store')
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}
