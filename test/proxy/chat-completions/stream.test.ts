/**
 * `ChatStreamTranslator` over real simulator streams — text, text with reasoning, a function call — and over
 * hand-made edge cases: the role chunk first, content that reassembles to the simulator's `Echo: …`, tool call
 * deltas that reassemble to its JSON, finish reasons, the usage chunk (cached tokens), stable id/created/model,
 * `[DONE]` last, text or arguments that arrive only in a `done` event, `response.failed` / `error` as thrown
 * `BrokerError`s, and a stream cut before its terminal event.
 */
import { describe, expect, it } from 'vitest'
import {
  ChatStreamTranslator,
  SSE_DONE,
  toSseLines,
  type ChatCompletionChunk,
} from '../../../src/proxy/chat-completions/index.js'
import { isBrokerError } from '../../../src/lib/index.js'
import { echoText } from '../../../src/sim/backend/answer.js'
import type { ResponseEvent } from '../../../src/upstream/index.js'
import { exchange, MODEL, simSession, WEATHER_TOOL } from './sim-exchange.js'

function translateAll(
  events: readonly ResponseEvent[],
  options: { includeUsage: boolean; includeReasoning?: boolean },
): ChatCompletionChunk[] {
  const translator = new ChatStreamTranslator({ model: MODEL, ...options })
  const chunks = events.flatMap((event) => translator.push(event))
  return [...chunks, ...translator.finish()]
}

function content(chunks: readonly ChatCompletionChunk[]): string {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')
}

function finishReasons(chunks: readonly ChatCompletionChunk[]): unknown[] {
  return chunks
    .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
    .filter((r) => r !== null)
}

describe('real simulator streams', () => {
  it('translates a text answer: role first, Echo content, stop, usage, stable ids, [DONE] last', async () => {
    const session = await simSession()
    const body = {
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello there' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    }
    const headers = { 'session-id': 'conv-1' }
    await exchange(session, body, headers)
    const events = await exchange(session, body, headers) // second turn: the prompt is cached
    const chunks = translateAll(events, { includeUsage: true })

    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' })
    expect(chunks.slice(1).every((chunk) => chunk.choices[0]?.delta.role === undefined)).toBe(true)
    expect(content(chunks)).toBe(echoText('hello there', 8))
    expect(finishReasons(chunks)).toEqual(['stop'])
    const ids = new Set(
      chunks.map((chunk) => `${chunk.id}|${String(chunk.created)}|${chunk.model}`),
    )
    expect(ids.size).toBe(1)
    expect(new Set(chunks.map((chunk) => chunk.object))).toEqual(new Set(['chat.completion.chunk']))

    const last = chunks.at(-1)
    const completed = events.at(-1)
    if (completed?.type !== 'response.completed' || !completed.response.usage)
      throw new Error('no usage')
    const usage = completed.response.usage
    expect(last?.choices).toEqual([])
    expect(last?.usage).toEqual({
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      total_tokens: usage.total_tokens,
      prompt_tokens_details: { cached_tokens: usage.input_tokens_details?.cached_tokens },
      completion_tokens_details: { reasoning_tokens: 0 },
    })
    expect(last?.usage?.prompt_tokens_details.cached_tokens).toBeGreaterThan(0)
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true)

    const wire = toSseLines(chunks, true)
    expect(wire.endsWith(`}\n\n${SSE_DONE}`)).toBe(true)
    const frames = wire.split('\n\n').filter((frame) => frame !== '')
    expect(frames).toHaveLength(chunks.length + 1)
    expect(frames.at(-1)).toBe('data: [DONE]')
    expect(JSON.parse(frames[0]?.slice('data: '.length) ?? '')).toEqual(chunks[0])
  })

  it('omits usage without include_usage (negative control)', async () => {
    const session = await simSession()
    const events = await exchange(session, {
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
    })
    const chunks = translateAll(events, { includeUsage: false })
    expect(chunks.every((chunk) => !('usage' in chunk) && chunk.choices.length === 1)).toBe(true)
    expect(finishReasons(chunks)).toEqual(['stop'])
  })

  it('drops reasoning by default and forwards it as reasoning_content on request', async () => {
    const session = await simSession()
    const events = await exchange(session, {
      model: MODEL,
      messages: [{ role: 'user', content: 'think' }],
      reasoning_effort: 'medium',
    })
    expect(events.some((event) => event.type === 'response.reasoning_summary_text.delta')).toBe(
      true,
    )

    const plain = translateAll(events, { includeUsage: true })
    expect(plain.some((chunk) => chunk.choices[0]?.delta.reasoning_content !== undefined)).toBe(
      false,
    )
    expect(content(plain)).toBe(echoText('think', 8))
    expect(plain.at(-1)?.usage?.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0)

    const withReasoning = translateAll(events, { includeUsage: false, includeReasoning: true })
    const reasoning = withReasoning
      .map((chunk) => chunk.choices[0]?.delta.reasoning_content ?? '')
      .join('')
    expect(reasoning).toContain('Reading the request')
    expect(content(withReasoning)).toBe(echoText('think', 8))
  })

  it('translates a function call: one indexed tool call whose arguments reassemble, finish tool_calls', async () => {
    const session = await simSession()
    const args = '{"city":"Oslo","days":3}'
    const events = await exchange(session, {
      model: MODEL,
      messages: [{ role: 'user', content: `please call get_weather ${args}` }],
      tools: [WEATHER_TOOL],
    })
    const added = events.find(
      (event) => event.type === 'response.output_item.added' && event.item.type === 'function_call',
    )
    if (added?.type !== 'response.output_item.added') throw new Error('no function call')
    const chunks = translateAll(events, { includeUsage: false })

    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
    expect(deltas.length).toBeGreaterThan(2)
    expect(deltas.every((delta) => delta.index === 0)).toBe(true)
    expect(deltas[0]).toEqual({
      index: 0,
      id: added.item.call_id,
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    })
    expect(
      deltas.slice(1).every((delta) => delta.id === undefined && delta.function.name === undefined),
    ).toBe(true)
    expect(deltas.map((delta) => delta.function.arguments).join('')).toBe(args)
    expect(content(chunks)).toBe('')
    expect(finishReasons(chunks)).toEqual(['tool_calls'])
  })
})

describe('edge cases', () => {
  const response = (extra: Record<string, unknown> = {}) => ({
    id: 'resp_1',
    status: 'completed',
    usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
    ...extra,
  })

  it('emits text that only arrives in output_text.done, once', () => {
    const translator = new ChatStreamTranslator({
      model: 'm',
      id: 'chatcmpl-x',
      created: 9,
      includeUsage: false,
    })
    const at = { item_id: 'msg_1', output_index: 0, content_index: 0 }
    const chunks = [
      ...translator.push({ type: 'response.output_text.delta', ...at, delta: 'Hel' }),
      ...translator.push({ type: 'response.output_text.done', ...at, text: 'Hello' }),
      ...translator.push({ type: 'response.completed', response: response() }),
    ]
    expect(content(chunks)).toBe('Hello')
    expect(chunks.every((chunk) => chunk.id === 'chatcmpl-x' && chunk.created === 9)).toBe(true)
  })

  it('numbers two function calls 0 and 1 and completes arguments from the done event', () => {
    const translator = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    const chunks = [
      ...translator.push({
        type: 'response.output_item.added',
        output_index: 0,
        item: { type: 'function_call', id: 'fc_a', call_id: 'call_a', name: 'a', arguments: '' },
      }),
      ...translator.push({
        type: 'response.output_item.added',
        output_index: 1,
        item: { type: 'function_call', id: 'fc_b', call_id: 'call_b', name: 'b', arguments: '' },
      }),
      ...translator.push({
        type: 'response.function_call_arguments.delta',
        item_id: 'fc_b',
        output_index: 1,
        delta: '{"y"',
      }),
      ...translator.push({
        type: 'response.function_call_arguments.done',
        item_id: 'fc_b',
        output_index: 1,
        arguments: '{"y":2}',
      }),
      ...translator.push({
        type: 'response.function_call_arguments.done',
        item_id: 'fc_a',
        output_index: 0,
        arguments: '{}',
      }),
      ...translator.push({ type: 'response.completed', response: response() }),
    ]
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
    const byIndex = (index: number) =>
      deltas
        .filter((delta) => delta.index === index)
        .map((delta) => delta.function.arguments)
        .join('')
    expect(
      deltas.filter((delta) => delta.id !== undefined).map((delta) => [delta.index, delta.id]),
    ).toEqual([
      [0, 'call_a'],
      [1, 'call_b'],
    ])
    expect(byIndex(0)).toBe('{}')
    expect(byIndex(1)).toBe('{"y":2}')
    expect(finishReasons(chunks)).toEqual(['tool_calls'])
  })

  it('finishes with length for response.incomplete (max_output_tokens)', () => {
    const translator = new ChatStreamTranslator({ model: 'm', includeUsage: true })
    const chunks = translator.push({
      type: 'response.incomplete',
      response: response({
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
      }),
    })
    expect(finishReasons(chunks)).toEqual(['length'])
    expect(chunks.at(-1)?.usage?.total_tokens).toBe(7)
    expect(translator.ended).toBe(true)
    expect(translator.push({ type: 'response.completed', response: response() })).toEqual([])
  })

  it('throws a BrokerError for response.failed and for an error event', () => {
    const failed = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    expect(() =>
      failed.push({
        type: 'response.failed',
        response: response({ status: 'failed', error: { code: 'server_error', message: 'boom' } }),
      }),
    ).toThrow(/server_error.*boom/)

    const limited = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    try {
      limited.push({ type: 'error', code: 'rate_limit_exceeded', message: 'slow down' })
      throw new Error('expected a throw')
    } catch (error) {
      expect(isBrokerError(error, 'ERR_UPSTREAM_RATE_LIMITED')).toBe(true)
    }
  })

  it('throws ERR_STREAM_CUT from finish() without a terminal event, and not after one', () => {
    const cut = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    cut.push({
      type: 'response.output_text.delta',
      item_id: 'i',
      output_index: 0,
      content_index: 0,
      delta: 'a',
    })
    expect(() => cut.finish()).toThrow(expect.objectContaining({ code: 'ERR_STREAM_CUT' }) as Error)

    const whole = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    whole.push({ type: 'response.completed', response: response() })
    expect(whole.finish()).toEqual([])
  })

  it('ignores unknown events but still opens with the role chunk', () => {
    const translator = new ChatStreamTranslator({ model: 'm', includeUsage: false })
    const chunks = translator.push({ type: 'unknown', eventType: 'response.new_thing', data: {} })
    expect(chunks).toHaveLength(1)
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' })
    expect(translator.push({ type: 'unknown', eventType: 'x', data: {} })).toEqual([])
  })
})
