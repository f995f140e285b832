/**
 * `POST /v1/responses` (and `/responses`): the Responses API relayed to the upstream. In ChatGPT mode the body is
 * sent with `store: false` and `stream: true`, as the backend requires; a caller that asked for `stream: false`
 * gets the `response` of the terminal event as one JSON object. The upstream's SSE bytes flow back untouched as
 * they arrive, with backpressure; a client disconnect aborts the upstream request at once. Failures before the
 * first byte become JSON errors; a stream cut after it just ends the response (the status is already sent).
 */
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { BrokerError, type Logger } from '../lib/index.js'
import type { UpstreamResponse } from '../upstream/index.js'
import { refusal, refusalForError, sendRefusal } from './proxy-error.js'
import { openResponse, type ProxyUpstream } from './proxy-upstream.js'

/** What the Responses route needs. */
export interface ResponsesRouteContext {
  readonly upstream: ProxyUpstream
  readonly logger: Logger
}

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
  const parsed = parseRequest(body)
  if (parsed === null) {
    sendRefusal(res, refusal(400, 'invalid_json', 'The body must be a JSON object.'))
    return
  }
  const wantsStream = parsed.stream === true
  const forwarded =
    context.upstream.kind === 'chatgpt'
      ? JSON.stringify({ ...parsed, store: false, stream: true })
      : body.toString('utf8')

  const controller = new AbortController()
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new Error('The client went away.'))
  }
  res.on('close', onClose)
  try {
    const answer = await openResponse(context.upstream, forwarded, controller.signal)
    if (context.upstream.kind === 'chatgpt' && !wantsStream) {
      await answerCollected(res, answer)
    } else {
      await relay(res, answer, controller.signal)
    }
  } catch (error) {
    if (controller.signal.aborted) {
      context.logger.debug('proxy: client went away; upstream request aborted')
      return
    }
    context.logger.warn({ err: error }, 'proxy: upstream request failed')
    sendRefusal(res, refusalForError(error))
  } finally {
    res.off('close', onClose)
  }
}

/** Parses the body as a JSON object, or null. */
function parseRequest(body: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
    return value as Record<string, unknown>
  } catch {
    return null
  }
}

/** Pipes the upstream bytes to the client with backpressure. */
async function relay(
  res: ServerResponse,
  answer: UpstreamResponse,
  signal: AbortSignal,
): Promise<void> {
  const type = answer.headers.get('content-type') ?? ''
  res.statusCode = 200
  res.setHeader(
    'content-type',
    type.startsWith('application/json') ? 'application/json' : 'text/event-stream',
  )
  res.setHeader('cache-control', 'no-store')
  res.flushHeaders()
  try {
    for await (const chunk of answer.body) {
      if (!res.write(chunk)) await once(res, 'drain', { signal })
    }
  } catch (error) {
    if (signal.aborted) throw error
    // A stream cut after bytes went out: the status is sent, so the response just ends.
  } finally {
    answer.discard()
  }
  res.end()
}

/** Collects the stream and answers the terminal event's `response` as JSON. */
async function answerCollected(res: ServerResponse, answer: UpstreamResponse): Promise<void> {
  const events = answer.events()
  let next = await events.next()
  while (next.done !== true) next = await events.next()
  const terminal = next.value
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
