/**
 * Conformance of `POST /backend-api/codex/responses` (PROTOCOL.md §7): the SSE framing and event order, the
 * deterministic answer, usage and the prompt-cache model, reasoning and function-call items, request validation,
 * and what the simulator counts and records.
 */
import { describe, expect, it } from 'vitest'
import { echoText } from '../../src/sim/backend/index.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import { eventOf, joinDeltas, parseSseFrames, type SseEvent } from '../support/sse-frames.js'
import { codexBody, postCodex, RATE_LIMIT_HEADERS, textEventOrder } from './backend-support.js'

async function streamOf(response: Response): Promise<SseEvent[]> {
  expect(response.status).toBe(200)
  return parseSseFrames(await response.text())
}

describe('codex/responses stream', () => {
  it('frames every event as `event: X\\ndata: {"type":"X",...}\\n\\n` in PROTOCOL order', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const response = await postCodex(sim, account, codexBody('hello world'))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('cache-control')).toBe('no-cache')
    const events = parseSseFrames(await response.text())
    expect(events.map((entry) => entry.event)).toEqual(textEventOrder(8))
    events.forEach((entry, index) => {
      expect(entry.data.type).toBe(entry.event)
      expect(entry.data.sequence_number).toBe(index)
    })
    expect(events.at(-1)?.event).toBe('response.completed')
  })

  it('answers deterministically: the deltas, the done text and the final output all echo the input', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const texts: string[] = []
    for (let i = 0; i < 2; i += 1) {
      const events = await streamOf(await postCodex(sim, account, codexBody('make it so')))
      const deltas = joinDeltas(events, 'response.output_text.delta')
      expect(eventOf(events, 'response.output_text.done').text).toBe(deltas)
      const completed = eventOf(events, 'response.completed').response as {
        id: string
        status: string
        model: string
        output: { type: string; role: string; content: { type: string; text: string }[] }[]
      }
      expect(completed.id).toMatch(/^resp_[0-9a-f]{32}$/)
      expect(completed.status).toBe('completed')
      expect(completed.model).toBe('gpt-5.4')
      expect(completed.output).toHaveLength(1)
      expect(completed.output[0]?.role).toBe('assistant')
      expect(completed.output[0]?.content[0]?.text).toBe(deltas)
      texts.push(deltas)
    }
    expect(texts).toEqual(['Echo: make it so', 'Echo: make it so'])
    expect(echoText('make it so', 8)).toBe('Echo: make it so')
  })

  it('echoes the newest user message of a conversation, or a plain string input', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const conversation = codexBody('', {
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'first' }] },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Echo: first' }],
        },
        { role: 'user', content: 'second' },
        { type: 'function_call_output', call_id: 'call_1', output: 'tool says hi' },
      ],
    })
    const fromArray = await streamOf(await postCodex(sim, account, conversation))
    expect(joinDeltas(fromArray, 'response.output_text.delta')).toBe('Echo: second')
    const fromString = await streamOf(
      await postCodex(sim, account, codexBody('', { input: 'just a string' })),
    )
    expect(joinDeltas(fromString, 'response.output_text.delta')).toBe('Echo: just a string')
  })

  it('cuts the answer into `streamChunks` deltas, padding a short text so none is empty', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    for (const chunks of [1, 3, 40]) {
      sim.control.configure({ streamChunks: chunks })
      const events = await streamOf(await postCodex(sim, account, codexBody('abc')))
      expect(events.map((entry) => entry.event)).toEqual(textEventOrder(chunks))
      const deltas = events.filter((entry) => entry.event === 'response.output_text.delta')
      for (const delta of deltas) expect(delta.data.delta).not.toBe('')
      expect(joinDeltas(events, 'response.output_text.delta')).toBe(echoText('abc', chunks))
    }
    expect(echoText('abc', 40)).toBe(`Echo: abc${'.'.repeat(31)}`)
  })

  it('never splits a surrogate pair across deltas', async () => {
    const sim = await useSimulator({ config: { streamChunks: 13 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const events = await streamOf(await postCodex(sim, account, codexBody('🙂🙃😀')))
    const deltas = events
      .filter((entry) => entry.event === 'response.output_text.delta')
      .map((entry) => entry.data.delta as string)
    expect(deltas.join('')).toBe(echoText('🙂🙃😀', 13))
    // A lone surrogate would not survive a UTF-8 round trip.
    for (const delta of deltas) expect(Buffer.from(delta, 'utf8').toString('utf8')).toBe(delta)
  })

  it('reports usage with the Responses shape and consistent totals', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const events = await streamOf(await postCodex(sim, account, codexBody('count my tokens')))
    const { usage } = eventOf(events, 'response.completed').response as {
      usage: Record<string, unknown>
    }
    expect(usage).toEqual({
      input_tokens: expect.any(Number) as number,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: Math.ceil('Echo: count my tokens'.length / 4),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: expect.any(Number) as number,
    })
    const input = usage.input_tokens as number
    expect(input).toBe(Math.ceil(('You are a coding agent.'.length + 'count my tokens'.length) / 4))
    expect(usage.total_tokens).toBe(input + (usage.output_tokens as number))
  })

  it('models the prompt cache: the same prompt_cache_key or session-id on the same account is warm', async () => {
    const sim = await useSimulator()
    const first = await signIn(sim, { email: 'a@example.com' })
    const second = await signIn(sim, { email: 'b@example.com' })
    const cached = async (
      account: typeof first,
      body: Record<string, unknown>,
      headers: Record<string, string> = {},
    ): Promise<number> => {
      const events = await streamOf(await postCodex(sim, account, body, headers))
      const response = eventOf(events, 'response.completed').response as {
        usage: { input_tokens_details: { cached_tokens: number } }
      }
      return response.usage.input_tokens_details.cached_tokens
    }
    const keyed = codexBody('same prompt', { prompt_cache_key: 'conv-1' })
    expect(await cached(first, keyed)).toBe(0)
    expect(await cached(first, keyed)).toBeGreaterThan(0)
    // Another account has its own cache: affinity matters.
    expect(await cached(second, keyed)).toBe(0)
    // No key at all: never cached.
    expect(await cached(first, codexBody('same prompt'))).toBe(0)
    expect(await cached(first, codexBody('same prompt'))).toBe(0)
    const session = { 'session-id': '5f0c8a2e-8d35-4c4e-9d8f-1f2a3b4c5d6e' }
    expect(await cached(first, codexBody('via header'), session)).toBe(0)
    expect(await cached(first, codexBody('via header'), session)).toBeGreaterThan(0)
  })

  it('puts a reasoning item with summary deltas first when `reasoning` is set', async () => {
    const sim = await useSimulator({ config: { streamChunks: 2 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const body = codexBody('think first', {
      reasoning: { effort: 'medium', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
    })
    const events = await streamOf(await postCodex(sim, account, body))
    expect(events.map((entry) => entry.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      ...textEventOrder(2).slice(2),
    ])
    const summary = joinDeltas(events, 'response.reasoning_summary_text.delta')
    expect(eventOf(events, 'response.reasoning_summary_text.done').text).toBe(summary)
    expect(eventOf(events, 'response.output_text.delta').output_index).toBe(1)
    const completed = eventOf(events, 'response.completed').response as {
      reasoning: unknown
      output: { type: string; summary?: { text: string }[]; encrypted_content?: string }[]
      usage: { output_tokens: number; output_tokens_details: { reasoning_tokens: number } }
    }
    expect(completed.reasoning).toEqual({ effort: 'medium', summary: 'auto' })
    expect(completed.output.map((item) => item.type)).toEqual(['reasoning', 'message'])
    expect(completed.output[0]?.summary?.[0]?.text).toBe(summary)
    expect(completed.output[0]?.encrypted_content).toMatch(/^gAAAAB/)
    const { usage } = completed
    expect(usage.output_tokens_details.reasoning_tokens).toBe(Math.ceil(summary.length / 4))
    expect(usage.output_tokens).toBe(
      Math.ceil('Echo: think first'.length / 4) + usage.output_tokens_details.reasoning_tokens,
    )
  })

  it('calls an offered function tool when the user says `call <name>`, with the JSON after it as arguments', async () => {
    const sim = await useSimulator({ config: { streamChunks: 4 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const tools = [
      { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } },
    ]
    const body = codexBody('please call get_weather {"city":"Paris"}', { tools })
    const events = await streamOf(await postCodex(sim, account, body))
    expect(events.map((entry) => entry.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])
    const added = eventOf(events, 'response.output_item.added').item as Record<string, unknown>
    expect(added).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '' })
    const args = joinDeltas(events, 'response.function_call_arguments.delta')
    expect(args).toBe('{"city":"Paris"}')
    expect(eventOf(events, 'response.function_call_arguments.done')).toMatchObject({
      name: 'get_weather',
      arguments: args,
    })
    const completed = eventOf(events, 'response.completed').response as {
      output: Record<string, unknown>[]
    }
    expect(completed.output).toEqual([
      {
        id: added.id,
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: expect.stringMatching(/^call_/) as string,
        name: 'get_weather',
      },
    ])
    // Without the trigger phrase (or for a tool not offered) the answer is text.
    const plain = await streamOf(
      await postCodex(sim, account, codexBody('what is the weather', { tools })),
    )
    expect(joinDeltas(plain, 'response.output_text.delta')).toBe('Echo: what is the weather')
    const notOffered = await streamOf(
      await postCodex(sim, account, codexBody('call get_time', { tools })),
    )
    expect(eventOf(notOffered, 'response.output_item.added').item).toMatchObject({
      type: 'message',
    })
    // Chat Completions-style nesting is understood too, and no JSON means `{}`.
    const nested = await streamOf(
      await postCodex(
        sim,
        account,
        codexBody('call lookup now', {
          tools: [{ type: 'function', function: { name: 'lookup' } }],
        }),
      ),
    )
    expect(joinDeltas(nested, 'response.function_call_arguments.delta')).toBe('{}')
  })

  it('answers with text once the input ends with the tool output, even with the tools still offered', async () => {
    const sim = await useSimulator({ config: { streamChunks: 2 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }]
    const ask = {
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'call get_weather' }],
    }
    const call = { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' }
    const output = { type: 'function_call_output', call_id: 'call_1', output: 'sunny' }
    const second = await streamOf(
      await postCodex(sim, account, codexBody('', { tools, input: [ask, call, output] })),
    )
    expect(eventOf(second, 'response.output_item.added').item).toMatchObject({ type: 'message' })
    expect(joinDeltas(second, 'response.output_text.delta')).toBe('Echo: call get_weather')
    // Control: the same turn without the output still calls the tool.
    const first = await streamOf(
      await postCodex(sim, account, codexBody('', { tools, input: [ask] })),
    )
    expect(eventOf(first, 'response.output_item.added').item).toMatchObject({
      type: 'function_call',
    })
  })
})

describe('codex/responses request checks', () => {
  it.each([
    ['stream false', codexBody('x', { stream: false }), 'Stream must be set to true'],
    ['stream absent', codexBody('x', { stream: undefined }), 'Stream must be set to true'],
    ['store true', codexBody('x', { store: true }), 'Store must be set to false'],
    ['store absent', codexBody('x', { store: undefined }), 'Store must be set to false'],
    ['no model', codexBody('x', { model: undefined }), "Missing required parameter: 'model'."],
    ['input a number', codexBody('x', { input: 42 }), expect.stringContaining("'input'")],
  ])('answers 400 {detail} for %s, with the rate-limit headers', async (_name, body, detail) => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const response = await postCodex(sim, account, body)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ detail: detail as unknown })
    for (const name of RATE_LIMIT_HEADERS) expect(response.headers.get(name)).not.toBeNull()
  })

  it('answers 400 {detail} for a body that is not a JSON object', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    for (const body of ['{not json', '[1,2]']) {
      const response = await fetch(`${sim.backendBase}/codex/responses`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${account.accessToken}`,
          'chatgpt-account-id': account.accountId,
          'content-type': 'application/json',
        },
        body,
      })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { detail: string }).detail).toMatch(/JSON/)
    }
  })
})

describe('codex/responses bookkeeping', () => {
  it('counts answered responses per account and requests per route; 4xx are not answers', async () => {
    const sim = await useSimulator()
    const first = await signIn(sim, { email: 'a@example.com' })
    const second = await signIn(sim, { email: 'b@example.com' })
    for (let i = 0; i < 3; i += 1) await (await postCodex(sim, first, codexBody('x'))).text()
    await (await postCodex(sim, second, codexBody('x'))).text()
    await (await postCodex(sim, second, codexBody('x', { stream: false }))).text()
    const counters = sim.control.counters()
    expect(counters.responsesByAccount).toEqual({ [first.accountId]: 3, [second.accountId]: 1 })
    expect(counters.requests['/backend-api/codex/responses']).toBe(5)
  })

  it('records the headers each request carried, readable over /__sim/requests', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const sessionId = '0d9b7c1a-3c3f-4a55-9a0e-7b8a1c2d3e4f'
    await (await postCodex(sim, account, codexBody('recorded'), { 'session-id': sessionId })).text()
    const answer = await fetch(
      `${sim.controlBase}/requests?route=${encodeURIComponent('/backend-api/codex/responses')}`,
    )
    expect(answer.status).toBe(200)
    const records = (await answer.json()) as {
      method: string
      route: string
      headers: Record<string, string>
      body: string | null
    }[]
    expect(records).toHaveLength(1)
    const [record] = records
    expect(record?.method).toBe('POST')
    expect(record?.route).toBe('/backend-api/codex/responses')
    expect(record?.headers).toMatchObject({
      authorization: `Bearer ${account.accessToken}`,
      'chatgpt-account-id': account.accountId,
      'session-id': sessionId,
      originator: 'codex_cli_rs',
      accept: 'text/event-stream',
    })
    expect(JSON.parse(record?.body ?? 'null')).toMatchObject({ model: 'gpt-5.4', stream: true })
  })
})
