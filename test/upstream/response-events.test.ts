/**
 * The typed layer over Responses frames: known events typed with their extra fields kept, unknown types and
 * non-JSON data passed through, a malformed known event refused, and the terminal-event rule (an end without
 * completed/failed/incomplete, or a transport break, is ERR_STREAM_CUT; a caller's abort stays an abort).
 */
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  parseResponseEvent,
  responseEvents,
  TerminalTracker,
  type ResponseEvent,
} from '../../src/upstream/index.js'

const encoder = new TextEncoder()

function frame(data: Record<string, unknown>): string {
  return `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`
}

async function collect(source: AsyncIterable<Uint8Array>, signal?: AbortSignal) {
  const events: ResponseEvent[] = []
  const iterator = responseEvents(source, signal)
  for (;;) {
    const next = await iterator.next()
    if (next.done === true) return { events, terminal: next.value }
    events.push(next.value)
  }
}

async function* bytes(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await Promise.resolve()
    yield encoder.encode(chunk)
  }
}

describe('parseResponseEvent', () => {
  it('types a delta and keeps fields it does not check', () => {
    const event = parseResponseEvent({
      event: 'response.output_text.delta',
      data: JSON.stringify({
        type: 'response.output_text.delta',
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta: 'Hi',
        logprobs: [],
      }),
    })
    expect(event.type).toBe('response.output_text.delta')
    if (event.type !== 'response.output_text.delta') throw new Error('narrowing')
    expect(event.delta).toBe('Hi')
    expect(event.logprobs).toEqual([])
  })

  it('types completed with its usage', () => {
    const event = parseResponseEvent({
      event: 'response.completed',
      data: JSON.stringify({
        type: 'response.completed',
        response: {
          id: 'resp_1',
          status: 'completed',
          usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        },
      }),
    })
    if (event.type !== 'response.completed') throw new Error('narrowing')
    expect(event.response.usage?.total_tokens).toBe(5)
  })

  it('passes an unknown type and non-JSON data through as unknown', () => {
    expect(parseResponseEvent({ event: 'x', data: '{"type":"response.new_thing","v":1}' })).toEqual(
      {
        type: 'unknown',
        eventType: 'response.new_thing',
        data: { type: 'response.new_thing', v: 1 },
      },
    )
    expect(parseResponseEvent({ event: 'message', data: '[DONE]' })).toEqual({
      type: 'unknown',
      eventType: 'message',
      data: '[DONE]',
    })
  })

  it('refuses a known event whose checked fields are wrong', () => {
    let caught: unknown
    try {
      parseResponseEvent({
        event: 'response.output_text.delta',
        data: '{"type":"response.output_text.delta","delta":5}',
      })
    } catch (error) {
      caught = error
    }
    expect(isBrokerError(caught, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
  })
})

describe('terminal events', () => {
  const created = frame({ type: 'response.created', response: { id: 'r' } })
  const completed = frame({ type: 'response.completed', response: { id: 'r' } })

  it('returns the terminal event at the end', async () => {
    const { events, terminal } = await collect(bytes(created, completed))
    expect(events.map((event) => event.type)).toEqual(['response.created', 'response.completed'])
    expect(terminal.type).toBe('response.completed')
  })

  it.each(['response.failed', 'response.incomplete'])('accepts %s as terminal', async (type) => {
    const { terminal } = await collect(bytes(created, frame({ type, response: { id: 'r' } })))
    expect(terminal.type).toBe(type)
  })

  it('an end without a terminal event is ERR_STREAM_CUT', async () => {
    const error = await collect(bytes(created)).catch((caught: unknown) => caught)
    expect(isBrokerError(error, 'ERR_STREAM_CUT')).toBe(true)
    const tracker = new TerminalTracker()
    expect(() => tracker.finish()).toThrow(/without response.completed/)
  })

  it('a transport break is ERR_STREAM_CUT, an abort stays the abort', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield encoder.encode(created)
      await Promise.resolve()
      throw new Error('other side closed')
    }
    const cut = await collect(broken()).catch((caught: unknown) => caught)
    expect(isBrokerError(cut, 'ERR_STREAM_CUT')).toBe(true)

    const controller = new AbortController()
    const reason = new Error('client left')
    controller.abort(reason)
    const aborted = await collect(broken(), controller.signal).catch((caught: unknown) => caught)
    expect(aborted).toBe(reason)
  })
})
