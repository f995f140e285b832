/**
 * `OpenAIApi` (API-key mode) against the simulator's `/v1/responses`: a minted key streams the same typed events
 * as the backend with the key only in `authorization`; a wrong key is ERR_UPSTREAM_UNAUTHORIZED with no refresh
 * to try, and neither key appears in any error text.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { isBrokerError, Secret } from '../../src/lib/index.js'
import {
  closeDispatcher,
  createUpstreamDispatcher,
  OpenAIApi,
  UpstreamError,
  type ResponseEvent,
} from '../../src/upstream/index.js'
import { useSimulator } from '../support/sim.js'

const dispatcher = createUpstreamDispatcher({ connections: 4 })

afterAll(async () => {
  await closeDispatcher(dispatcher, 100).catch(() => undefined)
})

describe('OpenAIApi.createResponse', () => {
  it('streams typed events with a minted key, sending it only as the bearer', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const api = new OpenAIApi({ apiBase: sim.apiBase })
    try {
      const answer = await api.createResponse({
        apiKey: Secret.from(apiKey),
        body: { model: 'gpt-5.5-pro', input: 'api mode', stream: true },
      })
      expect(answer.status).toBe(200)
      const events: ResponseEvent[] = []
      for await (const event of answer.events()) events.push(event)
      expect(events.at(-1)?.type).toBe('response.completed')
      const text = events
        .map((event) => (event.type === 'response.output_text.delta' ? event.delta : ''))
        .join('')
      expect(text).toBe('Echo: api mode')
      const [seen] = sim.control.requests('/v1/responses')
      expect(seen?.headers.authorization).toBe(`Bearer ${apiKey}`)
      expect(seen?.headers.accept).toBe('text/event-stream')
      expect(seen?.url).toBe('/v1/responses')
      expect(answer.quota.primary).toBeNull()
    } finally {
      await api.close()
    }
  })

  it('a wrong key is ERR_UPSTREAM_UNAUTHORIZED (no refresh) and the key is never echoed', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const wrong = `sk-proj-${'Z'.repeat(40)}wxyz`
    const api = new OpenAIApi({ apiBase: sim.apiBase })
    try {
      let caught: unknown
      try {
        await api.createResponse({
          apiKey: Secret.from(wrong),
          body: { model: 'gpt-5.4', input: 'hi', stream: true },
        })
      } catch (error) {
        caught = error
      }
      if (!(caught instanceof UpstreamError)) throw new Error('expected an UpstreamError')
      expect(caught.code).toBe('ERR_UPSTREAM_UNAUTHORIZED')
      expect(caught.details).toMatchObject({ status: 401, recovery: 'none' })
      const text = [String(caught), JSON.stringify(caught), caught.hint ?? ''].join('\n')
      expect(text).not.toContain(wrong)
      expect(text).not.toContain('wxyz')
      expect(text).not.toContain(apiKey)
      for (const secret of sim.control.issued()) expect(text).not.toContain(secret)
    } finally {
      await api.close()
    }
  })

  it('lists the models with the key; a wrong key is ERR_UPSTREAM_UNAUTHORIZED; a bad shape is ERR_UPSTREAM_BAD_RESPONSE', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const api = new OpenAIApi({ apiBase: sim.apiBase })
    try {
      const models = await api.listModels({ apiKey: Secret.from(apiKey) })
      expect(models.map((model) => model.id)).toContain('gpt-5.4')
      expect(sim.control.requests('/v1/models').at(-1)?.headers.authorization).toBe(
        `Bearer ${apiKey}`,
      )
      const refused: unknown = await api
        .listModels({ apiKey: Secret.from(`sk-proj-${'Z'.repeat(40)}`) })
        .catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(UpstreamError)
      expect((refused as UpstreamError).code).toBe('ERR_UPSTREAM_UNAUTHORIZED')
    } finally {
      await api.close()
    }
    const server = createServer((_req, res) => res.end('{"models":[]}'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const odd = new OpenAIApi({
      apiBase: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/v1`,
    })
    try {
      const error: unknown = await odd
        .listModels({ apiKey: Secret.from(apiKey) })
        .catch((caught: unknown) => caught)
      expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
    } finally {
      await odd.close()
      server.close()
    }
  })

  it('uses a shared dispatcher without closing it', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const api = new OpenAIApi({ apiBase: `${sim.apiBase}/`, dispatcher })
    const answer = await api.createResponse({
      apiKey: Secret.from(apiKey),
      body: JSON.stringify({ model: 'gpt-5.4', input: 'json', stream: false }),
    })
    const chunks: Uint8Array[] = []
    for await (const chunk of answer.body) chunks.push(chunk)
    const json = JSON.parse(Buffer.concat(chunks).toString()) as { status: string }
    expect(json.status).toBe('completed')
    await api.close()
    const again = await api.createResponse({
      apiKey: Secret.from(apiKey),
      body: { model: 'gpt-5.4', input: 'x', stream: true },
    })
    again.discard()
    const [first] = sim.control.requests('/v1/responses')
    expect(first?.headers.accept).toBe('application/json')
  })
})
