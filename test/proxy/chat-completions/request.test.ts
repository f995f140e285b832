/**
 * `chatToResponsesRequest`: every message role and content part, tools and tool choice, the parameters, the
 * `dropUnsupported` / `systemAs` / `forceStream` options, a tool-call round trip, and validation errors that name
 * the offending field (with positive controls that the same bodies minus the fault pass).
 */
import { describe, expect, it } from 'vitest'
import { chatToResponsesRequest } from '../../../src/proxy/chat-completions/index.js'
import { isBrokerError } from '../../../src/lib/index.js'

const base = { model: 'gpt-5.4' }
const opts = { forceStream: false }

function translate(
  extra: Record<string, unknown>,
  options: Parameters<typeof chatToResponsesRequest>[1] = opts,
) {
  return chatToResponsesRequest({ ...base, ...extra }, options)
}

function failureOf(body: unknown): string {
  try {
    chatToResponsesRequest(body, opts)
  } catch (error) {
    if (isBrokerError(error, 'ERR_INVALID_REQUEST')) return error.message
    throw error
  }
  throw new Error('expected ERR_INVALID_REQUEST')
}

describe('messages → input', () => {
  const cases: { name: string; messages: unknown[]; input: unknown[]; instructions?: string }[] = [
    {
      name: 'user string',
      messages: [{ role: 'user', content: 'hi' }],
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
    },
    {
      name: 'user text and image parts',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: 'https://x.test/a.png' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } },
          ],
        },
      ],
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'what is this?' },
            { type: 'input_image', image_url: 'https://x.test/a.png', detail: 'auto' },
            { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'low' },
          ],
        },
      ],
    },
    {
      name: 'system and developer → instructions',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'Use ' },
            { type: 'text', text: 'metric.' },
          ],
        },
        { role: 'user', content: 'hi' },
      ],
      instructions: 'Be brief.\n\nUse metric.',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
    },
    {
      name: 'assistant string and parts',
      messages: [
        { role: 'assistant', content: 'Hello.' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'A' },
            { type: 'refusal', refusal: 'B' },
          ],
        },
      ],
      input: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'AB' }] },
      ],
    },
    {
      name: 'assistant null content with a refusal',
      messages: [{ role: 'assistant', content: null, refusal: 'No.' }],
      input: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'No.' }] },
      ],
    },
    {
      name: 'assistant tool calls (no text) and tool results',
      messages: [
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
            { id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'one' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'two' }] },
      ],
      input: [
        { type: 'function_call', call_id: 'call_1', name: 'a', arguments: '{"x":1}' },
        { type: 'function_call', call_id: 'call_2', name: 'b', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'one' },
        { type: 'function_call_output', call_id: 'call_2', output: 'two' },
      ],
    },
    {
      name: 'assistant text with a tool call keeps both, text first',
      messages: [
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'a', arguments: '{}' } }],
        },
      ],
      input: [
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Checking.' }],
        },
        { type: 'function_call', call_id: 'c', name: 'a', arguments: '{}' },
      ],
    },
  ]
  it.each(cases)('$name', ({ messages, input, instructions }) => {
    const request = translate({ messages })
    expect(request.input).toEqual(input)
    expect(request.instructions).toBe(instructions)
  })

  it('puts system messages in place as developer items with systemAs: developer', () => {
    const request = translate(
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 'S' },
        ],
      },
      { forceStream: false, systemAs: 'developer' },
    )
    expect(request.instructions).toBeUndefined()
    expect(request.input[1]).toEqual({
      type: 'message',
      role: 'developer',
      content: [{ type: 'input_text', text: 'S' }],
    })
  })

  it('round-trips a tool call: the call and its output share the call_id', () => {
    const request = translate({
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_abc',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_abc', content: '{"c":3}' },
      ],
    })
    const call = request.input.find((item) => item.type === 'function_call')
    const output = request.input.find((item) => item.type === 'function_call_output')
    expect(call).toEqual({
      type: 'function_call',
      call_id: 'call_abc',
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
    })
    expect(output).toEqual({ type: 'function_call_output', call_id: 'call_abc', output: '{"c":3}' })
  })
})

describe('parameters', () => {
  const user = [{ role: 'user', content: 'hi' }]

  it('always sets store: false and stream per forceStream or the body', () => {
    expect(translate({ messages: user })).toMatchObject({ store: false, stream: false })
    expect(translate({ messages: user, stream: true })).toMatchObject({ stream: true })
    expect(translate({ messages: user, stream: false }, { forceStream: true })).toMatchObject({
      stream: true,
    })
  })

  it('maps tools, tool_choice and parallel_tool_calls', () => {
    const request = translate({
      messages: user,
      tools: [
        {
          type: 'function',
          function: { name: 'f', description: 'd', parameters: { type: 'object' }, strict: true },
        },
        { type: 'function', function: { name: 'g' } },
      ],
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
    })
    expect(request.tools).toEqual([
      {
        type: 'function',
        name: 'f',
        description: 'd',
        parameters: { type: 'object' },
        strict: true,
      },
      { type: 'function', name: 'g' },
    ])
    expect(request.tool_choice).toEqual({ type: 'function', name: 'f' })
    expect(request.parallel_tool_calls).toBe(false)
  })

  it.each(['none', 'auto', 'required'] as const)('keeps tool_choice %s', (choice) => {
    expect(translate({ messages: user, tool_choice: choice }).tool_choice).toBe(choice)
  })

  it('maps reasoning_effort, response_format and the sampling parameters', () => {
    const request = translate({
      messages: user,
      reasoning_effort: 'low',
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
      },
      max_tokens: 10,
      max_completion_tokens: 20,
      temperature: 0.5,
      top_p: 0.9,
      user: 'u1',
    })
    expect(request).toMatchObject({
      reasoning: { effort: 'low' },
      text: {
        format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true },
      },
      max_output_tokens: 20,
      temperature: 0.5,
      top_p: 0.9,
      user: 'u1',
    })
    expect(translate({ messages: user, max_tokens: 7 }).max_output_tokens).toBe(7)
    expect(translate({ messages: user, response_format: { type: 'json_object' } }).text).toEqual({
      format: { type: 'json_object' },
    })
  })

  it('drops what the ChatGPT backend refuses with dropUnsupported', () => {
    const request = translate(
      {
        messages: user,
        max_tokens: 10,
        temperature: 1,
        top_p: 1,
        user: 'u',
        reasoning_effort: 'high',
      },
      { forceStream: true, dropUnsupported: true },
    )
    expect(request).not.toHaveProperty('max_output_tokens')
    expect(request).not.toHaveProperty('temperature')
    expect(request).not.toHaveProperty('top_p')
    expect(request).not.toHaveProperty('user')
    expect(request.reasoning).toEqual({ effort: 'high' })
  })

  it('ignores unknown harmless fields and emits no empty optional fields', () => {
    const request = translate({
      messages: user,
      seed: 1,
      frequency_penalty: 0,
      metadata: { a: 'b' },
      stream_options: { include_usage: true },
      tools: [],
    })
    expect(request).toEqual({
      model: 'gpt-5.4',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      store: false,
      stream: false,
    })
  })
})

describe('validation', () => {
  const good = { model: 'gpt-5.4', messages: [{ role: 'user', content: 'hi' }] }
  const cases: { name: string; body: unknown; field: string }[] = [
    { name: 'missing model', body: { messages: good.messages }, field: "'model'" },
    { name: 'empty messages', body: { ...good, messages: [] }, field: "'messages'" },
    {
      name: 'unknown role',
      body: { ...good, messages: [{ role: 'robot', content: 'x' }] },
      field: "'messages[0].role'",
    },
    {
      name: 'user content a number',
      body: { ...good, messages: [good.messages[0], { role: 'user', content: 3 }] },
      field: "'messages[1].content'",
    },
    {
      name: 'tool message without tool_call_id',
      body: { ...good, messages: [{ role: 'tool', content: 'x' }] },
      field: "'messages[0].tool_call_id'",
    },
    {
      name: 'tool call without a name',
      body: {
        ...good,
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { arguments: '{}' } }],
          },
        ],
      },
      field: "'messages[0].tool_calls[0].function.name'",
    },
    {
      name: 'tool without a function name',
      body: { ...good, tools: [{ type: 'function', function: {} }] },
      field: "'tools[0].function.name'",
    },
    { name: 'temperature out of range', body: { ...good, temperature: 3 }, field: "'temperature'" },
    { name: 'n above 1', body: { ...good, n: 2 }, field: "'n'" },
    { name: 'a body that is not an object', body: 'hello', field: "'body'" },
  ]
  it.each(cases)('$name names $field', ({ body, field }) => {
    expect(failureOf(body)).toContain(field)
  })

  it('accepts the same bodies without the fault (positive control)', () => {
    expect(() => chatToResponsesRequest(good, opts)).not.toThrow()
    expect(() => chatToResponsesRequest({ ...good, temperature: 2, n: 1 }, opts)).not.toThrow()
    expect(() =>
      chatToResponsesRequest(
        { ...good, messages: [{ role: 'tool', tool_call_id: 'c', content: 'x' }] },
        opts,
      ),
    ).not.toThrow()
  })
})
