/**
 * Real clients against the proxy and the simulator. The official `openai` SDK (6.x) in chatgpt and API-key
 * mode: Responses streamed and not, Chat Completions streamed and not, a tool-call round trip on both APIs,
 * `models.list()`, and a wrong key that the SDK reports as `AuthenticationError` with 0 upstream calls. Then the
 * bytes a curl-style client sends over `node:net`, and real `curl` with the token passed on stdin (never argv).
 * Every test scans answers and logs for the proxy token and every simulator-issued secret.
 *
 * Also: the headers the SDK's default fetch really sends (`Sec-Fetch-Mode: cors`, no `Origin`) pass the browser
 * gate, and the same SDK made to look like a browser (`Origin`, `Sec-Fetch-Site`) is refused with 0 upstream calls.
 */
import { execFile } from 'node:child_process'
import { AuthenticationError, PermissionDeniedError } from 'openai'
import { describe, expect, it } from 'vitest'
import { joinDeltas, parseSseFrames } from '../support/sse-frames.js'
import {
  API_ROUTE,
  rawHttp,
  RESPONSES_ROUTE,
  useProxy,
  type ProxyFixture,
} from './proxy-fixture.js'
import { expectNoSecrets, parseRawAnswer, sdkClient, sdkRequestHeaders } from './sdk-support.js'

const MODEL = 'gpt-5.4'
const CURL = '/usr/bin/curl'
const WEATHER_PARAMETERS = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
}

/** The simulator route the proxy calls in each mode. */
function upstreamRoute(openai: boolean): string {
  return openai ? API_ROUTE : RESPONSES_ROUTE
}

function logsAndAnswers(fixture: ProxyFixture, answers: readonly unknown[]): void {
  expectNoSecrets(
    fixture,
    answers.map((answer) => JSON.stringify(answer)),
  )
}

describe('the openai SDK with its default fetch', () => {
  it('sends Sec-Fetch-Mode: cors and no Origin; passes the gate, while browser headers are refused (C2.2)', async () => {
    // What Node's fetch adds on its own, seen by a plain server.
    const sent = await sdkRequestHeaders()
    expect(sent.origin).toBeUndefined()
    expect(Object.keys(sent).filter((name) => name.startsWith('sec-'))).toEqual(['sec-fetch-mode'])
    expect(sent['sec-fetch-mode']).toBe('cors')

    const fixture = await useProxy()
    for (const browserish of [
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-dest': 'empty' },
    ]) {
      const client = sdkClient(fixture.proxy, { defaultHeaders: browserish })
      const refused = await client.models.list().catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(PermissionDeniedError)
      expect((refused as PermissionDeniedError).status).toBe(403)
      expect(JSON.stringify((refused as PermissionDeniedError).error)).toContain('forbidden_origin')
    }
    expect(fixture.upstreamCalls()).toBe(0)
    // Positive control: the SDK exactly as documented (docs/proxy.md) gets through.
    const models = await sdkClient(fixture.proxy).models.list()
    expect(models.data.length).toBeGreaterThan(0)
    expect(fixture.upstreamCalls()).toBe(1)
  })
})

describe.each([
  { mode: 'chatgpt', openai: false },
  { mode: 'openai (API key)', openai: true },
])('the openai SDK, $mode mode', ({ openai }) => {
  it('responses.create: streamed events and output_text', async () => {
    const fixture = await useProxy({ openai })
    const client = sdkClient(fixture.proxy)
    const stream = await client.responses.create({
      model: MODEL,
      input: 'hello from the sdk',
      stream: true,
    })
    const types: string[] = []
    let text = ''
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'response.output_text.delta') text += event.delta
    }
    expect(text).toBe('Echo: hello from the sdk')
    expect(types[0]).toBe('response.created')
    expect(types.at(-1)).toBe('response.completed')

    const plain = await client.responses.create({ model: MODEL, input: 'not streamed' })
    expect(plain.object).toBe('response')
    expect(plain.status).toBe('completed')
    expect(plain.output_text).toBe('Echo: not streamed')

    const seen = fixture.sim.control.requests(upstreamRoute(openai))
    expect(seen).toHaveLength(2)
    for (const request of seen) {
      expect(request.headers.origin).toBeUndefined()
      // None of the SDK's own headers (sec-fetch-mode, x-stainless-*) is forwarded (C2.5).
      expect(
        Object.keys(request.headers).filter((name) => /^(sec-|x-stainless-)/.test(name)),
      ).toEqual([])
      expect(String(request.headers.authorization)).not.toContain(fixture.proxy.token.reveal())
    }
    logsAndAnswers(fixture, [plain])
  })

  it('chat.completions.create: streamed chunks and one completion', async () => {
    const fixture = await useProxy({ openai })
    const client = sdkClient(fixture.proxy)
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'chat via sdk' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let content = ''
    let finish: string | null = null
    let total = 0
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      total = chunk.usage?.total_tokens ?? total
    }
    expect(content).toBe('Echo: chat via sdk')
    expect(finish).toBe('stop')
    expect(total).toBeGreaterThan(0)

    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'one completion' },
      ],
    })
    expect(completion.object).toBe('chat.completion')
    expect(completion.choices[0]?.message.content).toBe('Echo: one completion')
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    expect(fixture.sim.control.requests(upstreamRoute(openai))).toHaveLength(2)
    logsAndAnswers(fixture, [completion])
  })

  it('responses.create: a function call, then its output sent back, then the final text', async () => {
    const fixture = await useProxy({ openai })
    const client = sdkClient(fixture.proxy)
    const tools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: WEATHER_PARAMETERS,
        strict: true,
      },
    ]
    const ask = { role: 'user' as const, content: 'call get_weather {"city":"Rome"}' }
    // Streamed first: the arguments arrive as deltas.
    const stream = await client.responses.create({
      model: MODEL,
      input: [ask],
      tools,
      stream: true,
    })
    let streamedArguments = ''
    for await (const event of stream) {
      if (event.type === 'response.function_call_arguments.delta') streamedArguments += event.delta
    }
    expect(streamedArguments).toBe('{"city":"Rome"}')

    const first = await client.responses.create({ model: MODEL, input: [ask], tools })
    const call = first.output.find((item) => item.type === 'function_call')
    if (call?.type !== 'function_call') throw new Error('no function call in the output')
    expect(call.name).toBe('get_weather')
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Rome' })
    expect(first.output_text).toBe('')

    // The simulator calls the tool again while the last user text asks for it and the tool is offered, so the
    // second turn sends the call and its output back without the tools (the model can only answer in text).
    const final = await client.responses.create({
      model: MODEL,
      input: [
        ask,
        {
          type: 'function_call',
          call_id: call.call_id,
          name: call.name,
          arguments: call.arguments,
        },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":21}' },
      ],
    })
    expect(final.output_text).toBe('Echo: call get_weather {"city":"Rome"}')
    const sent = JSON.parse(
      String(fixture.sim.control.requests(upstreamRoute(openai)).at(-1)?.body),
    ) as { input: { type?: string; call_id?: string; output?: string }[] }
    const output = sent.input.find((item) => item.type === 'function_call_output')
    expect(output).toMatchObject({ call_id: call.call_id, output: '{"temp_c":21}' })
    logsAndAnswers(fixture, [first, final])
  })

  it('chat.completions.create: a tool call streamed and not, then the tool result, then text', async () => {
    const fixture = await useProxy({ openai })
    const client = sdkClient(fixture.proxy)
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'get_weather', parameters: WEATHER_PARAMETERS },
      },
    ]
    const ask = { role: 'user' as const, content: 'call get_weather {"city":"Oslo"}' }
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [ask],
      tools,
      stream: true,
    })
    let name = ''
    let args = ''
    let finish: string | null = null
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += delta.function?.name ?? ''
        args += delta.function?.arguments ?? ''
      }
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect({ name, args, finish }).toEqual({
      name: 'get_weather',
      args: '{"city":"Oslo"}',
      finish: 'tool_calls',
    })

    const first = await client.chat.completions.create({ model: MODEL, messages: [ask], tools })
    expect(first.choices[0]?.finish_reason).toBe('tool_calls')
    const toolCall = first.choices[0]?.message.tool_calls?.[0]
    if (toolCall?.type !== 'function') throw new Error('no function tool call')
    expect(toolCall.function).toEqual({ name: 'get_weather', arguments: '{"city":"Oslo"}' })

    // Without the tools on the second turn (see the Responses test): the answer is text.
    const final = await client.chat.completions.create({
      model: MODEL,
      messages: [
        ask,
        { role: 'assistant', content: null, tool_calls: [toolCall] },
        { role: 'tool', tool_call_id: toolCall.id, content: '{"temp_c":4}' },
      ],
    })
    expect(final.choices[0]?.finish_reason).toBe('stop')
    expect(final.choices[0]?.message.content).toBe('Echo: call get_weather {"city":"Oslo"}')
    const sent = JSON.parse(
      String(fixture.sim.control.requests(upstreamRoute(openai)).at(-1)?.body),
    ) as { input: { type?: string; call_id?: string }[] }
    expect(sent.input.map((item) => item.type)).toEqual([
      'message',
      'function_call',
      'function_call_output',
    ])
    expect(sent.input[2]?.call_id).toBe(toolCall.id)
    logsAndAnswers(fixture, [first, final])
  })

  it('models.list() lists models', async () => {
    const fixture = await useProxy({ openai })
    const client = sdkClient(fixture.proxy)
    const ids: string[] = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids).toContain(MODEL)
    // chatgpt mode asks the backend for the plan's models, API-key mode the API's own list.
    expect(fixture.upstreamCalls()).toBe(1)
  })

  it('a wrong apiKey → AuthenticationError 401 and 0 upstream calls; the right one works', async () => {
    const fixture = await useProxy({ openai })
    const token = fixture.proxy.token.reveal()
    const wrongKeys = [
      'sk-not-the-proxy-token',
      `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
    ]
    for (const wrong of wrongKeys) {
      const client = sdkClient(fixture.proxy, { apiKey: wrong })
      const error = await client.responses
        .create({ model: MODEL, input: 'nope' })
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(AuthenticationError)
      expect((error as AuthenticationError).status).toBe(401)
      const chatError = await client.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'nope' }] })
        .catch((caught: unknown) => caught)
      expect(chatError).toBeInstanceOf(AuthenticationError)
    }
    expect(fixture.upstreamCalls()).toBe(0)
    const client = sdkClient(fixture.proxy)
    const ok = await client.responses.create({ model: MODEL, input: 'right key' })
    expect(ok.output_text).toBe('Echo: right key')
    expect(fixture.upstreamCalls()).toBe(1)
  })
})

describe('curl-style clients', () => {
  const body = JSON.stringify({ model: MODEL, input: 'raw bytes', stream: true })

  function rawRequest(port: number, authorization: string): string {
    return (
      `POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1:${String(port)}\r\n` +
      `Authorization: ${authorization}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n${body}`
    )
  }

  it('exact request bytes over node:net get a chunked SSE stream; a wrong bearer gets 401', async () => {
    const fixture = await useProxy()
    const { port } = fixture.proxy
    const refused = await rawHttp(port, rawRequest(port, 'Bearer wrong-token'))
    expect(refused.status).toBe(401)
    expect(fixture.upstreamCalls()).toBe(0)

    const raw = await rawHttp(port, rawRequest(port, `Bearer ${fixture.proxy.token.reveal()}`))
    const answer = parseRawAnswer(raw.text)
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('text/event-stream')
    expect(answer.headers['transfer-encoding']).toBe('chunked')
    expect(answer.headers.connection).toBe('close')
    const events = parseSseFrames(answer.body)
    expect(joinDeltas(events, 'response.output_text.delta')).toBe('Echo: raw bytes')
    expect(events.at(-1)?.event).toBe('response.completed')
    expect(fixture.upstreamCalls()).toBe(1)
    expectNoSecrets(fixture, [refused.text, raw.text])
  })

  it('real curl -sS -N, token via stdin config (-K -), never in argv', async () => {
    const fixture = await useProxy()
    const token = fixture.proxy.token.reveal()
    const url = `${fixture.proxy.url}/v1/responses`
    const run = (authorization: string) => {
      const args = [
        '-sS',
        '-N',
        '--max-time',
        '15',
        '-K',
        '-',
        '-H',
        'content-type: application/json',
        '--data-binary',
        body,
        '-w',
        '\n%{http_code}',
        url,
      ]
      expect(args.join(' ')).not.toContain(token)
      return new Promise<{ status: number; text: string }>((resolve, reject) => {
        const child = execFile(CURL, args, { timeout: 15_000 }, (error, stdout, stderr) => {
          if (error) {
            reject(new Error(`curl failed: ${stderr}`))
            return
          }
          const cut = stdout.lastIndexOf('\n')
          resolve({ status: Number(stdout.slice(cut + 1)), text: stdout.slice(0, cut) })
        })
        // A curl config line: the header value in double quotes (the token is base64url, no escapes).
        child.stdin?.end(`header = "Authorization: ${authorization}"\n`)
      })
    }
    const refused = await run('Bearer wrong')
    expect(refused.status).toBe(401)
    expect(fixture.upstreamCalls()).toBe(0)
    const answer = await run(`Bearer ${token}`)
    expect(answer.status).toBe(200)
    const events = parseSseFrames(answer.text)
    expect(joinDeltas(events, 'response.output_text.delta')).toBe('Echo: raw bytes')
    expect(events.at(-1)?.event).toBe('response.completed')
    const [seen] = fixture.sim.control.requests(RESPONSES_ROUTE)
    expect(seen?.headers.authorization).toBe(`Bearer ${fixture.account.accessToken}`)
    expectNoSecrets(fixture, [refused.text, answer.text])
  })
})
