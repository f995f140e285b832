/**
 * `POST /v1/chat/completions` end to end: through the real proxy (gates included) to the simulator and back.
 * Streamed and not, a tool call round trip, the usage chunk, a validation error that never reaches the
 * upstream, and the gates still in front of the route.
 */
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { call, postJson, RESPONSES_ROUTE, useProxy } from './proxy-fixture.js'

const PATH = '/v1/chat/completions'
const MODEL = 'gpt-5.4'
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}

interface Chunk {
  id: string
  object: string
  model: string
  choices: {
    index: number
    delta: {
      role?: string
      content?: string
      tool_calls?: { index: number; id?: string; function: { name?: string; arguments: string } }[]
    }
    finish_reason: string | null
  }[]
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null
}

interface Completion {
  object: string
  model: string
  choices: {
    message: {
      role: string
      content: string | null
      tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[]
    }
    finish_reason: string
  }[]
  usage?: { total_tokens: number }
}

/** Strict `data: <json>\n\n` frames ending with `data: [DONE]\n\n`. */
function parseChunks(text: string): Chunk[] {
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  const frames = text.slice(0, -'data: [DONE]\n\n'.length).split('\n\n')
  expect(frames.pop()).toBe('')
  return frames.map((frame) => {
    expect(frame.startsWith('data: ')).toBe(true)
    return JSON.parse(frame.slice('data: '.length)) as Chunk
  })
}

function contentOf(chunks: readonly Chunk[]): string {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')
}

describe('POST /v1/chat/completions', () => {
  it('streams a text answer as chat.completion.chunk frames ending with [DONE]', async () => {
    const fixture = await useProxy()
    const answer = await postJson(
      fixture,
      { model: MODEL, messages: [{ role: 'user', content: 'hello there' }], stream: true },
      {},
      PATH,
    )
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('text/event-stream')
    const chunks = parseChunks(answer.text)
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
    expect(contentOf(chunks)).toBe('Echo: hello there')
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop')
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk')
      expect(chunk.model).toBe(MODEL)
      expect(chunk).not.toHaveProperty('usage')
    }
    const [seen] = fixture.sim.control.requests(RESPONSES_ROUTE)
    const sent = JSON.parse(String(seen?.body)) as Record<string, unknown>
    expect(sent.stream).toBe(true)
    expect(sent.store).toBe(false)
  })

  it('answers one chat.completion without stream', async () => {
    const fixture = await useProxy()
    const answer = await postJson(
      fixture,
      { model: MODEL, messages: [{ role: 'user', content: 'plain' }] },
      {},
      PATH,
    )
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('application/json')
    const completion = JSON.parse(answer.text) as Completion
    expect(completion.object).toBe('chat.completion')
    expect(completion.model).toBe(MODEL)
    expect(completion.choices[0]?.message).toMatchObject({
      role: 'assistant',
      content: 'Echo: plain',
    })
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    expect(completion.usage?.total_tokens).toBeGreaterThan(0)
  })

  it('ends the stream with a usage chunk with include_usage', async () => {
    const fixture = await useProxy()
    const answer = await postJson(
      fixture,
      {
        model: MODEL,
        messages: [{ role: 'user', content: 'count me' }],
        stream: true,
        stream_options: { include_usage: true },
      },
      {},
      PATH,
    )
    expect(answer.status).toBe(200)
    const chunks = parseChunks(answer.text)
    const last = chunks.at(-1)
    expect(last?.choices).toEqual([])
    expect(last?.usage?.total_tokens).toBeGreaterThan(0)
    expect(last?.usage?.total_tokens).toBe(
      (last?.usage?.prompt_tokens ?? 0) + (last?.usage?.completion_tokens ?? 0),
    )
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull()
  })

  it('round-trips a tool call, streamed and not', async () => {
    const fixture = await useProxy()
    const ask = {
      model: MODEL,
      messages: [{ role: 'user', content: 'call get_weather {"city":"Rome"}' }],
      tools: [WEATHER_TOOL],
    }
    const streamed = await postJson(fixture, { ...ask, stream: true }, {}, PATH)
    expect(streamed.status).toBe(200)
    const chunks = parseChunks(streamed.text)
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
    expect(deltas[0]?.function.name).toBe('get_weather')
    expect(deltas.map((delta) => delta.function.arguments).join('')).toBe('{"city":"Rome"}')
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls')

    const first = await postJson(fixture, ask, {}, PATH)
    expect(first.status).toBe(200)
    const completion = JSON.parse(first.text) as Completion
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls')
    const toolCall = completion.choices[0]?.message.tool_calls?.[0]
    expect(toolCall?.function).toEqual({ name: 'get_weather', arguments: '{"city":"Rome"}' })
    if (toolCall === undefined) throw new Error('no tool call')

    const followUp = await postJson(
      fixture,
      {
        ...ask,
        messages: [
          ...ask.messages,
          { role: 'assistant', content: null, tool_calls: [toolCall] },
          { role: 'tool', tool_call_id: toolCall.id, content: '{"temp":21}' },
        ],
      },
      {},
      PATH,
    )
    expect(followUp.status).toBe(200)
    const final = JSON.parse(followUp.text) as Completion
    expect(final.object).toBe('chat.completion')
    const sent = fixture.sim.control.requests(RESPONSES_ROUTE).at(-1)
    const input = (
      JSON.parse(String(sent?.body)) as { input: { type: string; call_id?: string }[] }
    ).input
    expect(input.map((item) => item.type)).toEqual([
      'message',
      'function_call',
      'function_call_output',
    ])
    expect(input[2]?.call_id).toBe(toolCall.id)
  })

  it('refuses an invalid body with 400 naming the field, without calling upstream', async () => {
    const fixture = await useProxy()
    const answer = await postJson(
      fixture,
      { model: MODEL, messages: [{ role: 'user', content: 3 }] },
      {},
      PATH,
    )
    expect(answer.status).toBe(400)
    const body = JSON.parse(answer.text) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('invalid_request')
    expect(body.error.message).toContain('messages[0].content')
    const notJson = await call(fixture.proxy, PATH, {
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: '[1,2]',
    })
    expect(notJson.status).toBe(400)
    expect(fixture.upstreamCalls()).toBe(0)
  })

  it('stays behind the gates: no token → 401, 0 upstream calls; GET → 405', async () => {
    const fixture = await useProxy()
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
    const noToken = await call(fixture.proxy, PATH, {
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(noToken.status).toBe(401)
    const wrongMethod = await call(fixture.proxy, PATH, { method: 'GET', headers: fixture.auth() })
    expect(wrongMethod.status).toBe(405)
    expect(fixture.upstreamCalls()).toBe(0)
    const ok = await call(fixture.proxy, PATH, {
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body,
    })
    expect(ok.status).toBe(200)
    expect(fixture.upstreamCalls()).toBe(1)
  })

  it('a stream cut after the first byte → one SSE error frame, then the end', async () => {
    const fixture = await useProxy()
    fixture.sim.control.configure({ streamChunks: 8 })
    fixture.sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    const answer = await postJson(
      fixture,
      { model: MODEL, messages: [{ role: 'user', content: 'cut me off' }], stream: true },
      {},
      PATH,
    )
    expect(answer.status).toBe(200)
    expect(answer.text).not.toContain('[DONE]')
    const frames = answer.text.split('\n\n').filter((frame) => frame !== '')
    const last = JSON.parse(frames.at(-1)?.slice('data: '.length) ?? '') as {
      error?: { code: string; message: string }
    }
    expect(last.error?.code).toBe('ERR_STREAM_CUT')
    expect(frames.length).toBeGreaterThan(1)
  })

  it('a client abort mid-stream aborts the upstream at once', async () => {
    const fixture = await useProxy()
    fixture.sim.control.configure({ streamChunks: 50, streamDelayMs: 200 })
    const controller = new AbortController()
    const response = await request(`${fixture.proxy.url}${PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fixture.auth() },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'long' }],
        stream: true,
      }),
      signal: controller.signal,
    })
    expect(response.statusCode).toBe(200)
    response.body.on('error', () => undefined)
    await new Promise((resolve) => response.body.once('data', resolve))
    const started = Date.now()
    controller.abort()
    await expect.poll(() => fixture.logs.join('')).toContain('upstream request aborted')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('works in API-key mode', async () => {
    const fixture = await useProxy({ openai: true })
    const answer = await postJson(
      fixture,
      { model: MODEL, messages: [{ role: 'user', content: 'via api' }], stream: true },
      {},
      PATH,
    )
    expect(answer.status).toBe(200)
    expect(contentOf(parseChunks(answer.text))).toBe('Echo: via api')
  })
})
