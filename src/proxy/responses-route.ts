/**
 * `POST /v1/responses` (and `/responses`): the Responses API relayed to the upstream. In ChatGPT mode the body is
 * sent with `store: false` and `stream: true`, as the backend requires; a caller that asked for `stream: false`
 * gets the `response` of the terminal event as one JSON object. The upstream's SSE bytes flow back untouched as
 * they arrive, with backpressure; a client disconnect aborts the upstream request at once. Failures before the
 * first byte become JSON errors; a stream cut after it ends with an SSE `error` event (the status is already sent).
 */
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { BrokerError } from '../lib/index.js'
import type { UpstreamResponse } from '../upstream/index.js'
import { refusal, sendRefusal } from './proxy-error.js'
import { streamCutEvent, TerminalWatch } from './terminal-watch.js'
import {
  affinityHints,
  collectTerminal,
  exchangeUpstream,
  parseJsonObject,
  type UpstreamRouteContext,
} from './upstream-exchange.js'

/** What the Responses route needs. */
export type ResponsesRouteContext = UpstreamRouteContext

/**
 * Serves one Responses request whose body has been read.
 * @example
 * await serveResponses(res, body, { upstream, logger })
 */
export async function serveResponses(
  res: ServerResponse,
  body: Buffer,
  context: ResponsesRouteContext,
): Promise<void> {
  const parsed = parseJsonObject(body)
  if (parsed === null) {
    sendRefusal(res, refusal(400, 'invalid_json', 'The body must be a JSON object.'))
    return
  }
  const wantsStream = parsed.stream === true
  const chatgpt = context.upstream.kind !== 'openai'
  const forwarded = chatgpt
    ? JSON.stringify({ ...parsed, store: false, stream: true })
    : body.toString('utf8')
  await exchangeUpstream(
    res,
    context,
    forwarded,
    (answer, signal) =>
      chatgpt && !wantsStream ? answerCollected(res, answer) : relay(res, answer, signal),
    affinityHints(parsed, context.sessionId),
  )
}

/**
 * Pipes the upstream bytes to the client with backpressure. A stream that ends (or breaks) before its terminal
 * event gets the proxy's own `error` event last, so the client sees a clean failure.
 */
async function relay(
  res: ServerResponse,
  answer: UpstreamResponse,
  signal: AbortSignal,
): Promise<void> {
  const sse = !answer.contentType.startsWith('application/json')
  // No flushHeaders(): the headers leave with the first chunk, one write instead of two (P1, P2).
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/json',
    'cache-control': 'no-store',
  })
  const watch = sse ? new TerminalWatch() : null
  try {
    for await (const chunk of answer.body) {
      watch?.push(chunk)
      if (!res.write(chunk)) await once(res, 'drain', { signal })
    }
  } catch (error) {
    if (signal.aborted) throw error
    // A stream cut after bytes went out: the status is sent, so it ends with an error event below.
  } finally {
    answer.discard()
  }
  res.end(watch !== null && !watch.seen ? streamCutEvent() : undefined)
}

/** Collects the stream and answers the terminal event's `response` as JSON. */
async function answerCollected(res: ServerResponse, answer: UpstreamResponse): Promise<void> {
  const terminal = await collectTerminal(answer)
  if (!('response' in terminal)) {
    throw new BrokerError('ERR_UPSTREAM_BAD_RESPONSE', 'The stream ended without a response.')
  }
  const text = JSON.stringify(terminal.response)
  res.statusCode = 200
  res.setHeader('content-type', 'application/json')
  res.setHeader('cache-control', 'no-store')
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}
