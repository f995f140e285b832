/**
 * Conformance of `POST /v1/responses` in API-key mode (PROTOCOL.md §8): the same stream as the Codex backend
 * when `stream: true`, one JSON response object otherwise, the API's own 401 and 400 errors (an incorrect key is
 * never echoed in full), and no `x-codex-*` headers.
 */
import { describe, expect, it } from 'vitest'
import { postJson, useSimulator } from '../support/sim.js'
import { eventOf, joinDeltas, parseSseFrames, readUntilClosed } from '../support/sse-frames.js'
import { codexBody, postApi, RATE_LIMIT_HEADERS, textEventOrder } from './backend-support.js'

describe('/v1/responses', () => {
  it('streams the same event sequence as the Codex backend, without x-codex headers', async () => {
    const sim = await useSimulator({ config: { streamChunks: 5 } })
    const { apiKey } = sim.control.createApiKey()
    const response = await postApi(sim, apiKey, codexBody('hello api', { model: 'gpt-5.5-pro' }))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    for (const name of RATE_LIMIT_HEADERS) expect(response.headers.get(name)).toBeNull()
    const events = parseSseFrames(await response.text())
    expect(events.map((entry) => entry.event)).toEqual(textEventOrder(5))
    events.forEach((entry, index) => {
      expect(entry.data.type).toBe(entry.event)
      expect(entry.data.sequence_number).toBe(index)
    })
    expect(joinDeltas(events, 'response.output_text.delta')).toBe('Echo: hello api')
    expect(eventOf(events, 'response.completed').response).toMatchObject({
      model: 'gpt-5.5-pro',
      status: 'completed',
    })
    // API mode has no per-account counter and no quota.
    expect(sim.control.counters().responsesByAccount).toEqual({})
  })

  it('answers one JSON response object when stream is false or absent', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    for (const stream of [false, undefined]) {
      const response = await postApi(
        sim,
        apiKey,
        codexBody('no stream', { stream, store: true, prompt_cache_key: 'k' }),
      )
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/json')
      const body = (await response.json()) as Record<string, unknown>
      expect(body).toMatchObject({
        id: expect.stringMatching(/^resp_/) as string,
        object: 'response',
        status: 'completed',
        model: 'gpt-5.4',
        store: true,
        output: [
          {
            type: 'message',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'Echo: no stream', annotations: [] }],
          },
        ],
        usage: {
          input_tokens: expect.any(Number) as number,
          input_tokens_details: { cached_tokens: expect.any(Number) as number },
          output_tokens: Math.ceil('Echo: no stream'.length / 4),
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: expect.any(Number) as number,
        },
      })
    }
  })

  it('returns the same response object the stream’s completed event carries', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const body = codexBody('same either way', { reasoning: { effort: 'low', summary: 'auto' } })
    const streamed = parseSseFrames(await (await postApi(sim, apiKey, body)).text())
    const completed = eventOf(streamed, 'response.completed').response as Record<string, unknown>
    const plain = (await (await postApi(sim, apiKey, { ...body, stream: false })).json()) as Record<
      string,
      unknown
    >
    const withoutIds = (value: Record<string, unknown>): unknown =>
      JSON.parse(
        JSON.stringify(value)
          .replace(/"(resp|msg|rs)_[0-9a-f]+"/g, '"<id>"')
          .replace(/"created_at":\d+/, '"created_at":0'),
      )
    expect(withoutIds(plain)).toEqual(withoutIds(completed))
  })

  it('answers 401 invalid_api_key for an unknown key without echoing it, and 401 for none', async () => {
    const sim = await useSimulator()
    sim.control.createApiKey()
    const wrongKey = 'sk-proj-THISISNOTAREALKEYbutitislongenough1234'
    const wrong = await postApi(sim, wrongKey, codexBody('x'))
    expect(wrong.status).toBe(401)
    const text = await wrong.text()
    expect(text).not.toContain(wrongKey)
    expect(text).not.toContain('THISISNOTAREALKEY')
    expect(JSON.parse(text)).toEqual({
      error: {
        message: expect.stringContaining(
          'Incorrect API key provided: sk-proj-********1234',
        ) as string,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
    const short = await postApi(sim, 'sk-short', codexBody('x'))
    expect(await short.text()).not.toContain('sk-short')
    const none = await postJson(`${sim.apiBase}/responses`, codexBody('x'))
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: null },
    })
  })

  it('answers the API’s 400s: unknown model, missing model, bad stream type, bad JSON', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const unknown = await postApi(sim, apiKey, codexBody('x', { model: 'gpt-0' }))
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toEqual({
      error: {
        message: "The requested model 'gpt-0' does not exist.",
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    })
    const missing = await postApi(sim, apiKey, codexBody('x', { model: undefined }))
    expect(await missing.json()).toMatchObject({ error: { param: 'model' } })
    const badStream = await postApi(sim, apiKey, codexBody('x', { stream: 'yes' }))
    expect(badStream.status).toBe(400)
    expect(await badStream.json()).toMatchObject({ error: { param: 'stream' } })
    const badJson = await fetch(`${sim.apiBase}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: '{',
    })
    expect(badJson.status).toBe(400)
    expect(await badJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } })
  })

  it('plays cut on a JSON answer (no byte) and on a stream (no terminal event), then answers normally', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    sim.control.injectFault({ route: '/v1/responses', kind: 'cut', count: 2 })
    await expect(postApi(sim, apiKey, codexBody('x', { stream: false }))).rejects.toThrow()
    const cut = await readUntilClosed(await postApi(sim, apiKey, codexBody('x')))
    expect(cut.broken).toBe(true)
    expect(parseSseFrames(cut.text).map((entry) => entry.event)).not.toContain('response.completed')
    const normal = await postApi(sim, apiKey, codexBody('x', { stream: false }))
    expect(normal.status).toBe(200)
    expect(await normal.json()).toMatchObject({ status: 'completed' })
  })

  it('keeps a prompt cache per key', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const { apiKey: otherKey } = sim.control.createApiKey()
    const cached = async (key: string): Promise<number> => {
      const body = (await (
        await postApi(sim, key, codexBody('cache me', { stream: false, prompt_cache_key: 'p' }))
      ).json()) as { usage: { input_tokens_details: { cached_tokens: number } } }
      return body.usage.input_tokens_details.cached_tokens
    }
    expect(await cached(apiKey)).toBe(0)
    expect(await cached(apiKey)).toBeGreaterThan(0)
    expect(await cached(otherKey)).toBe(0)
  })
})
