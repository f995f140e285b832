/**
 * The typed layer over the SSE stream of a Responses request (PROTOCOL.md §7–8): each frame becomes one member
 * of the {@link ResponseEvent} union, validated loosely with zod (the fields a client relies on are checked,
 * every other field is kept), and an event type this module does not know passes through as `unknown`. A
 * stream is only complete with a terminal event — `response.completed`, `response.failed` or
 * `response.incomplete` — so {@link TerminalTracker} turns an end without one into `ERR_STREAM_CUT`.
 */
import { z } from 'zod'
import { BrokerError } from '../lib/index.js'
import { parseSse, type SseMessage } from './sse-parser.js'

/** The `usage` object of a completed response (PROTOCOL.md §7), shared with the translations. */
export const responseUsageSchema = z.looseObject({
  input_tokens: z.number(),
  output_tokens: z.number(),
  total_tokens: z.number(),
  input_tokens_details: z.looseObject({ cached_tokens: z.number() }).nullish(),
  output_tokens_details: z.looseObject({ reasoning_tokens: z.number() }).nullish(),
})

const responseSchema = z.looseObject({
  id: z.string(),
  status: z.string().nullish(),
  usage: responseUsageSchema.nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
})

const itemSchema = z.looseObject({ type: z.string(), id: z.string().optional() })
const partSchema = z.looseObject({ type: z.string() })

const sequence = { sequence_number: z.number().optional() }
const inItem = { ...sequence, item_id: z.string(), output_index: z.number() }
const inContent = { ...inItem, content_index: z.number() }

const lifecycle = <T extends string>(type: T) =>
  z.looseObject({ type: z.literal(type), ...sequence, response: responseSchema })

/** The schema of every known event, by its `type`. */
const EVENT_SCHEMAS = {
  'response.created': lifecycle('response.created'),
  'response.in_progress': lifecycle('response.in_progress'),
  'response.completed': lifecycle('response.completed'),
  'response.failed': lifecycle('response.failed'),
  'response.incomplete': lifecycle('response.incomplete'),
  'response.output_item.added': z.looseObject({
    type: z.literal('response.output_item.added'),
    ...sequence,
    output_index: z.number(),
    item: itemSchema,
  }),
  'response.output_item.done': z.looseObject({
    type: z.literal('response.output_item.done'),
    ...sequence,
    output_index: z.number(),
    item: itemSchema,
  }),
  'response.content_part.added': z.looseObject({
    type: z.literal('response.content_part.added'),
    ...inContent,
    part: partSchema,
  }),
  'response.content_part.done': z.looseObject({
    type: z.literal('response.content_part.done'),
    ...inContent,
    part: partSchema,
  }),
  'response.output_text.delta': z.looseObject({
    type: z.literal('response.output_text.delta'),
    ...inContent,
    delta: z.string(),
  }),
  'response.output_text.done': z.looseObject({
    type: z.literal('response.output_text.done'),
    ...inContent,
    text: z.string(),
  }),
  'response.reasoning_summary_text.delta': z.looseObject({
    type: z.literal('response.reasoning_summary_text.delta'),
    ...inItem,
    summary_index: z.number(),
    delta: z.string(),
  }),
  'response.reasoning_summary_text.done': z.looseObject({
    type: z.literal('response.reasoning_summary_text.done'),
    ...inItem,
    summary_index: z.number(),
    text: z.string(),
  }),
  'response.function_call_arguments.delta': z.looseObject({
    type: z.literal('response.function_call_arguments.delta'),
    ...inItem,
    delta: z.string(),
  }),
  'response.function_call_arguments.done': z.looseObject({
    type: z.literal('response.function_call_arguments.done'),
    ...inItem,
    arguments: z.string(),
  }),
  error: z.looseObject({
    type: z.literal('error'),
    ...sequence,
    code: z.string().nullish(),
    message: z.string(),
    param: z.string().nullish(),
  }),
} as const

type EventSchemas = typeof EVENT_SCHEMAS

/** The `type` of every event this module knows. */
export type KnownResponseEventType = keyof EventSchemas

/** An event of a known `type`, with its checked fields typed (unknown fields are kept). */
export type KnownResponseEvent = {
  [K in KnownResponseEventType]: z.output<EventSchemas[K]>
}[KnownResponseEventType]

/** An event whose type this module does not know (or whose data is not JSON), passed through as is. */
export interface UnknownResponseEvent {
  type: 'unknown'
  /** The event's own type: the JSON `type`, else the SSE event name. */
  eventType: string
  /** The parsed JSON, or the raw text when it was not JSON. */
  data: unknown
}

/** One event of a Responses stream. */
export type ResponseEvent = KnownResponseEvent | UnknownResponseEvent

/** The events that end a stream. */
export type TerminalResponseEvent = Extract<
  ResponseEvent,
  { type: 'response.completed' | 'response.failed' | 'response.incomplete' }
>

const TERMINAL_TYPES: ReadonlySet<string> = new Set([
  'response.completed',
  'response.failed',
  'response.incomplete',
])

function isKnownType(type: string): type is KnownResponseEventType {
  return Object.hasOwn(EVENT_SCHEMAS, type)
}

/**
 * Types one SSE frame. An unknown type (or data that is not JSON) becomes `unknown`; a known type whose checked
 * fields are missing or wrong is a broken upstream.
 * @throws {BrokerError} `ERR_UPSTREAM_BAD_RESPONSE` for a malformed event of a known type.
 * @example
 * const event = parseResponseEvent({ event: 'response.output_text.delta', data: '{"type":…}' })
 * if (event.type === 'response.output_text.delta') process.stdout.write(event.delta)
 */
export function parseResponseEvent(frame: Pick<SseMessage, 'event' | 'data'>): ResponseEvent {
  let data: unknown
  try {
    data = JSON.parse(frame.data)
  } catch {
    return { type: 'unknown', eventType: frame.event, data: frame.data }
  }
  const declared =
    typeof data === 'object' && data !== null && 'type' in data && typeof data.type === 'string'
      ? data.type
      : frame.event
  if (!isKnownType(declared)) return { type: 'unknown', eventType: declared, data }
  const parsed = EVENT_SCHEMAS[declared].safeParse(data)
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The upstream sent a malformed ${declared} event (${fields}).`,
    )
  }
  return parsed.data
}

/** True for `response.completed`, `response.failed` and `response.incomplete`. */
export function isTerminalEvent(event: ResponseEvent): event is TerminalResponseEvent {
  return TERMINAL_TYPES.has(event.type)
}

/**
 * Watches a stream for its terminal event.
 * @example
 * const tracker = new TerminalTracker()
 * for (const event of events) tracker.observe(event)
 * tracker.finish() // throws ERR_STREAM_CUT when no terminal event came
 */
export class TerminalTracker {
  #terminal: TerminalResponseEvent | null = null
  #count = 0

  /** The terminal event, once seen. */
  get terminal(): TerminalResponseEvent | null {
    return this.#terminal
  }

  /** Notes one event. */
  observe(event: ResponseEvent): void {
    this.#count += 1
    if (this.#terminal === null && isTerminalEvent(event)) this.#terminal = event
  }

  /**
   * Declares the stream over.
   * @throws {BrokerError} `ERR_STREAM_CUT` when it ended before a terminal event.
   */
  finish(cause?: unknown): TerminalResponseEvent {
    if (this.#terminal !== null) return this.#terminal
    throw streamCut(this.#count, cause)
  }
}

function streamCut(count: number, cause: unknown): BrokerError {
  return new BrokerError(
    'ERR_STREAM_CUT',
    `The upstream stream ended after ${count} event(s) without response.completed, failed or incomplete.`,
    { cause, hint: 'Retry the request; nothing after the cut was received.' },
  )
}

/**
 * Reads a Responses stream as typed events. A transport error mid-stream, or an end before a terminal event,
 * is `ERR_STREAM_CUT` — unless `signal` was aborted, in which case its reason is rethrown (the caller left).
 * @example
 * for await (const event of responseEvents(body, signal)) {
 *   if (event.type === 'response.output_text.delta') process.stdout.write(event.delta)
 * }
 */
export async function* responseEvents(
  body: AsyncIterable<Uint8Array | string>,
  signal?: AbortSignal,
): AsyncGenerator<ResponseEvent, TerminalResponseEvent, undefined> {
  const tracker = new TerminalTracker()
  const frames = parseSse(body)
  for (;;) {
    let next: IteratorResult<SseMessage, void>
    try {
      next = await frames.next()
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      if (error instanceof BrokerError) throw error
      return tracker.finish(error)
    }
    if (next.done === true) return tracker.finish()
    const event = parseResponseEvent(next.value)
    tracker.observe(event)
    yield event
  }
}
