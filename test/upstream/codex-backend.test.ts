/**
 * `CodexBackend` against the simulator: the Codex headers on the wire, the raw stream and the typed events of a
 * real answer, every failure class from the simulator's states and faults (revoked token, exhausted quota,
 * Cloudflare, a model outside the plan, 500, a redirect that must not be followed, a cut stream, an unreachable
 * host), a caller's abort ending the upstream request at once, the model listing, and a canary scan of every
 * error against the secrets the simulator issued.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { isBrokerError, Secret } from '../../src/lib/index.js'
import type { Simulator } from '../../src/sim/index.js'
import {
  CodexBackend,
  UpstreamError,
  userAgent,
  type ResponseEvent,
} from '../../src/upstream/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'
import { joinDeltas, parseSseFrames } from '../support/sse-frames.js'

const identity = { originator: 'codex_cli_rs', version: '0.1.0' }
const ROUTE = '/backend-api/codex/responses'
const backends: CodexBackend[] = []

afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()))
})

async function setup(plan: 'free' | 'plus' | 'pro' = 'plus') {
  const sim = await useSimulator()
  const account = await signIn(sim, { email: `${plan}@example.com`, plan })
  const backend = new CodexBackend({ backendBase: sim.backendBase, identity })
  backends.push(backend)
  const credentials = {
    accessToken: Secret.from(account.accessToken),
    chatgptAccountId: account.accountId,
  }
  return { sim, account, backend, credentials }
}

function request(input = 'hello', model = 'gpt-5.4') {
  return { model, input: [{ role: 'user', content: input }], stream: true, store: false }
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof UpstreamError) return error
    throw error
  }
  throw new Error('expected a failure')
}

async function drain(events: AsyncIterable<ResponseEvent>): Promise<ResponseEvent[]> {
  const all: ResponseEvent[] = []
  for await (const event of events) all.push(event)
  return all
}

/** Every way a secret could show in an error. */
function exposed(error: unknown): string {
  const broker = error as UpstreamError
  return [
    String(error),
    JSON.stringify(error),
    broker.message,
    broker.hint ?? '',
    JSON.stringify(broker.details),
  ].join('\n')
}

function expectNoIssuedSecret(sim: Simulator, errors: readonly unknown[]): void {
  const issued = sim.control.issued()
  expect(issued.length).toBeGreaterThan(0)
  for (const error of errors) {
    const text = exposed(error)
    for (const secret of issued) expect(text).not.toContain(secret)
  }
}

describe('CodexBackend.createResponse', () => {
  it('streams the typed events of Echo: <input>, sending the Codex headers', async () => {
    const { sim, account, backend, credentials } = await setup()
    const answer = await backend.createResponse({
      credentials,
      body: request('hello there'),
      sessionId: 'conv-123',
    })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toContain('text/event-stream')
    const events = await drain(answer.events())
    const types = events.map((event) => event.type)
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress'])
    expect(types.at(-1)).toBe('response.completed')
    expect(types).toContain('response.output_item.added')
    expect(types).toContain('response.content_part.added')
    expect(types).toContain('response.output_text.done')
    expect(types.indexOf('response.output_text.done')).toBeGreaterThan(
      types.lastIndexOf('response.output_text.delta'),
    )
    expect(types).not.toContain('unknown')
    const text = events
      .map((event) => (event.type === 'response.output_text.delta' ? event.delta : ''))
      .join('')
    expect(text).toBe('Echo: hello there')
    const done = events.find((event) => event.type === 'response.output_text.done')
    expect(done?.type === 'response.output_text.done' ? done.text : null).toBe(text)
    const completed = events.at(-1)
    if (completed?.type !== 'response.completed') throw new Error('no completed event')
    expect(completed.response.usage?.total_tokens).toBeGreaterThan(0)

    const [seen] = sim.control.requests(ROUTE)
    expect(seen?.headers.authorization).toBe(`Bearer ${account.accessToken}`)
    expect(seen?.headers['chatgpt-account-id']).toBe(account.accountId)
    expect(seen?.headers.originator).toBe('codex_cli_rs')
    expect(seen?.headers['user-agent']).toBe(userAgent(identity))
    expect(seen?.headers.accept).toBe('text/event-stream')
    expect(seen?.headers['content-type']).toBe('application/json')
    expect(seen?.headers['session-id']).toBe('conv-123')
    expect(seen?.url).toBe(ROUTE)
    expect(JSON.parse(seen?.body ?? '')).toEqual(request('hello there'))
  })

  it('hands back the raw bytes untouched, and a fresh UUID session id by default', async () => {
    const { sim, backend, credentials } = await setup()
    const raw = JSON.stringify(request('raw bytes'))
    const answer = await backend.createResponse({ credentials, body: raw })
    expect(answer.sessionId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    const chunks: Buffer[] = []
    for await (const chunk of answer.body) chunks.push(Buffer.from(chunk))
    const frames = parseSseFrames(Buffer.concat(chunks).toString('utf8'))
    expect(joinDeltas(frames, 'response.output_text.delta')).toBe('Echo: raw bytes')
    const [seen] = sim.control.requests(ROUTE)
    expect(seen?.body).toBe(raw)
    expect(seen?.headers['session-id']).toBe(answer.sessionId)
  })

  it('a refused token is ERR_UPSTREAM_UNAUTHORIZED with recovery "refresh" (revoked, then a 401 fault)', async () => {
    const { sim, account, backend, credentials } = await setup()
    sim.control.injectFault({ route: ROUTE, kind: '401' })
    const fault = await failure(backend.createResponse({ credentials, body: request() }))
    expect(fault.code).toBe('ERR_UPSTREAM_UNAUTHORIZED')
    expect(fault.details).toMatchObject({ status: 401, recovery: 'refresh' })

    sim.control.revokeAccount({ accountId: account.accountId })
    const revoked = await failure(backend.createResponse({ credentials, body: request() }))
    expect(revoked.code).toBe('ERR_UPSTREAM_UNAUTHORIZED')
    expect(revoked.details.recovery).toBe('refresh')
    expectNoIssuedSecret(sim, [fault, revoked])
  })

  it('an exhausted window is ERR_UPSTREAM_RATE_LIMITED with its reset time and quota', async () => {
    const { sim, account, backend, credentials } = await setup()
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: 900,
    })
    const now = Math.floor(Date.now() / 1000)
    const error = await failure(backend.createResponse({ credentials, body: request() }))
    expect(error.code).toBe('ERR_UPSTREAM_RATE_LIMITED')
    expect(error.httpStatus).toBe(429)
    expect(error.details.recovery).toBe('wait')
    expect(error.details.resetsAt).toBeGreaterThanOrEqual(now + 898)
    expect(error.details.resetsAt).toBeLessThanOrEqual(now + 902)
    expect(error.details.quota?.primary?.usedPercent).toBe(100)
    expect(error.hint).toContain(new Date((error.details.resetsAt ?? 0) * 1000).toISOString())
  })

  it('a Cloudflare challenge is ERR_UPSTREAM_CHALLENGE, and the next request works (positive control)', async () => {
    const { sim, backend, credentials } = await setup()
    sim.control.injectFault({ route: ROUTE, kind: 'cloudflare' })
    const error = await failure(backend.createResponse({ credentials, body: request() }))
    expect(error.code).toBe('ERR_UPSTREAM_CHALLENGE')
    expect(error.message).not.toMatch(/<html|just a moment/i)
    const ok = await backend.createResponse({ credentials, body: request() })
    expect((await drain(ok.events())).at(-1)?.type).toBe('response.completed')
  })

  it('a model outside a free plan is ERR_MODEL_UNSUPPORTED naming the requested model', async () => {
    const { backend, credentials } = await setup('free')
    const error = await failure(
      backend.createResponse({ credentials, body: JSON.stringify(request('hi', 'gpt-5.5')) }),
    )
    expect(error.code).toBe('ERR_MODEL_UNSUPPORTED')
    expect(error.details.model).toBe('gpt-5.5')
    expect(error.message).toContain("'gpt-5.5'")
    expect(error.httpStatus).toBe(400)
    // A model name that is not a plain identifier is never echoed.
    const odd = await failure(
      backend.createResponse({ credentials, body: request('hi', 'gpt-5.5\n<script>') }),
    )
    expect(odd.code).toBe('ERR_MODEL_UNSUPPORTED')
    expect(odd.details.model).toBeNull()
    expect(odd.message).not.toContain('<script>')
  })

  it('a 500 and an unreachable host are ERR_UPSTREAM_UNAVAILABLE with recovery "retry"', async () => {
    const { sim, backend, credentials } = await setup()
    sim.control.injectFault({ route: ROUTE, kind: '500' })
    const error = await failure(backend.createResponse({ credentials, body: request() }))
    expect(error.code).toBe('ERR_UPSTREAM_UNAVAILABLE')
    expect(error.details).toMatchObject({ status: 500, recovery: 'retry' })

    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise<void>((resolve) =>
      closed.close(() => {
        resolve()
      }),
    )
    const nowhere = new CodexBackend({
      backendBase: `http://127.0.0.1:${port}/backend-api`,
      identity,
    })
    backends.push(nowhere)
    const network = await failure(nowhere.createResponse({ credentials, body: request() }))
    expect(network.code).toBe('ERR_UPSTREAM_UNAVAILABLE')
    expect(network.details).toMatchObject({ status: null, recovery: 'retry' })
  })

  it('never follows a redirect: the other host gets 0 requests (PX-08)', async () => {
    const { sim, backend, credentials } = await setup()
    let hits = 0
    const other = createServer((_req, res) => {
      hits += 1
      res.end('stolen')
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = other.address() as AddressInfo
      sim.control.configure({ redirectFaultLocation: `http://127.0.0.1:${port}/steal` })
      sim.control.injectFault({ route: ROUTE, kind: 'redirect' })
      const error = await failure(backend.createResponse({ credentials, body: request() }))
      expect(error.code).toBe('ERR_UPSTREAM_BAD_RESPONSE')
      expect(error.details.status).toBe(302)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(hits).toBe(0)
    } finally {
      await new Promise<void>((resolve) =>
        other.close(() => {
          resolve()
        }),
      )
    }
  })

  it('a stream cut before its terminal event is ERR_STREAM_CUT when iterating events', async () => {
    const { sim, backend, credentials } = await setup()
    sim.control.configure({ streamChunks: 8 })
    sim.control.injectFault({ route: ROUTE, kind: 'cut' })
    const answer = await backend.createResponse({ credentials, body: request('cut me') })
    const seen: string[] = []
    let caught: unknown
    try {
      for await (const event of answer.events()) seen.push(event.type)
    } catch (error) {
      caught = error
    }
    expect(isBrokerError(caught, 'ERR_STREAM_CUT')).toBe(true)
    expect(seen).toContain('response.output_text.delta')
    expect(seen).not.toContain('response.completed')
  })

  it('a caller abort mid-stream ends the upstream request at once; the simulator keeps serving', async () => {
    const { sim, backend, credentials } = await setup()
    sim.control.configure({ streamChunks: 50, streamDelayMs: 200 })
    const controller = new AbortController()
    const answer = await backend.createResponse({
      credentials,
      body: request('long'),
      signal: controller.signal,
    })
    const iterator = answer.events()
    expect((await iterator.next()).value.type).toBe('response.created')
    const reason = new Error('client went away')
    const started = Date.now()
    controller.abort(reason)
    const outcome = await iterator.next().catch((error: unknown) => error)
    expect(outcome).toBe(reason)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(answer.body.destroyed).toBe(true)

    sim.control.configure({ streamDelayMs: 0, streamChunks: 3 })
    const again = await backend.createResponse({ credentials, body: request('again') })
    expect((await drain(again.events())).at(-1)?.type).toBe('response.completed')
  })

  it('an abort before the answer rejects with the abort reason, not an upstream error', async () => {
    const { sim, backend, credentials } = await setup()
    const controller = new AbortController()
    const reason = new Error('gave up')
    controller.abort(reason)
    const aborted = await backend
      .createResponse({ credentials, body: request(), signal: controller.signal })
      .catch((error: unknown) => error)
    expect(aborted).toBe(reason)
    expect(sim.control.requests(ROUTE)).toHaveLength(0)
  })
})

describe('CodexBackend.listModels', () => {
  it('lists the plan models, sending client_version and the Codex headers', async () => {
    const { sim, account, backend, credentials } = await setup('free')
    const models = await backend.listModels({ credentials, clientVersion: '0.169.0' })
    expect(models.map((model) => model.slug)).toEqual(['gpt-5.4', 'gpt-5.4-mini'])
    const [seen] = sim.control.requests('/backend-api/codex/models')
    expect(seen?.url).toBe('/backend-api/codex/models?client_version=0.169.0')
    expect(seen?.headers['chatgpt-account-id']).toBe(account.accountId)
    expect(seen?.headers.authorization).toBe(`Bearer ${account.accessToken}`)
  })

  it('classifies a refused token the same way', async () => {
    const { sim, account, backend, credentials } = await setup()
    sim.control.revokeAccount({ accountId: account.accountId })
    const error = await failure(backend.listModels({ credentials, clientVersion: '1' }))
    expect(error.code).toBe('ERR_UPSTREAM_UNAUTHORIZED')
  })
})

describe('canary', () => {
  it('no issued secret appears in any error message, hint, details or JSON (PX-14)', async () => {
    const { sim, account, backend, credentials } = await setup('free')
    const errors: unknown[] = []
    const body = request()
    for (const kind of ['401', '500', 'cloudflare', 'redirect'] as const) {
      sim.control.injectFault({ route: ROUTE, kind })
      errors.push(await failure(backend.createResponse({ credentials, body })))
    }
    errors.push(
      await failure(backend.createResponse({ credentials, body: request('x', 'gpt-5.5-pro') })),
    )
    sim.control.injectFault({ route: ROUTE, kind: 'cut' })
    const cut = await backend.createResponse({ credentials, body })
    errors.push(await drain(cut.events()).catch((error: unknown) => error))
    sim.control.setQuota({ accountId: account.accountId, primaryUsedPercent: 100 })
    errors.push(await failure(backend.createResponse({ credentials, body })))
    sim.control.revokeAccount({ accountId: account.accountId })
    errors.push(await failure(backend.createResponse({ credentials, body })))
    expect(errors).toHaveLength(8)
    expectNoIssuedSecret(sim, errors)
    for (const [, request] of sim.control.requests(ROUTE).entries()) {
      expect(request.url).toBe(ROUTE)
    }
  })
})
