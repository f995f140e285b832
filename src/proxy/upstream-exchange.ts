/**
 * What the Responses and Chat Completions routes share: parsing the body as a JSON object, opening the upstream
 * response for one client (`openResponse`, with its single 401 recovery) under an abort signal that fires when
 * the client goes away, turning a failure before the first byte into a JSON error, and collecting a stream to
 * its terminal event.
 */
import type { ServerResponse } from 'node:http'
import type { AffinityHints } from '../accounts/index.js'
import type { Logger } from '../lib/index.js'
import type { TerminalResponseEvent, UpstreamResponse } from '../upstream/index.js'
import { refusalForError, sendRefusal } from './proxy-error.js'
import { openResponse, type ProxyUpstream } from './proxy-upstream.js'

/** What a route that calls the upstream needs. */
export interface UpstreamRouteContext {
  readonly upstream: ProxyUpstream
  readonly logger: Logger
  /** The request's `session-id` header: an affinity key for the account pool. */
  readonly sessionId?: string | null
}

/**
 * The pool's affinity keys of a request: its `session-id` header and the body's `prompt_cache_key` and
 * `previous_response_id` (strings only).
 * @example
 * affinityHints({ prompt_cache_key: 'conv-1' }, null) // { sessionId: null, promptCacheKey: 'conv-1', previousResponseId: null }
 */
export function affinityHints(
  body: Readonly<Record<string, unknown>>,
  sessionId: string | null | undefined,
): AffinityHints {
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null)
  return {
    sessionId: sessionId ?? null,
    promptCacheKey: text(body.prompt_cache_key),
    previousResponseId: text(body.previous_response_id),
  }
}

/**
 * Parses a body as a JSON object, or answers null.
 * @example
 * parseJsonObject(Buffer.from('{"model":"gpt-5.4"}')) // { model: 'gpt-5.4' }
 */
export function parseJsonObject(body: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
    return value as Record<string, unknown>
  } catch {
    return null
  }
}

/**
 * Opens the upstream response for `forwarded` (the JSON text to send) and hands it to `answer`. A client
 * disconnect aborts the upstream request at once; a failure is logged and answered as a JSON error (or just
 * ends the response when its headers already went out).
 * @example
 * await exchangeUpstream(res, context, JSON.stringify(request), (answer, signal) => relay(res, answer, signal))
 */
export async function exchangeUpstream(
  res: ServerResponse,
  context: UpstreamRouteContext,
  forwarded: string,
  answer: (response: UpstreamResponse, signal: AbortSignal) => Promise<void>,
  hints: AffinityHints = {},
): Promise<void> {
  const controller = new AbortController()
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new Error('The client went away.'))
  }
  res.on('close', onClose)
  try {
    const response = await openResponse(context.upstream, forwarded, controller.signal, hints)
    await answer(response, controller.signal)
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

/**
 * Reads a streamed upstream response to its terminal event.
 * @throws {BrokerError} `ERR_STREAM_CUT` when the stream ends before a terminal event.
 * @example
 * const terminal = await collectTerminal(response)
 */
export async function collectTerminal(response: UpstreamResponse): Promise<TerminalResponseEvent> {
  const events = response.events()
  let next = await events.next()
  while (next.done !== true) next = await events.next()
  return next.value
}
