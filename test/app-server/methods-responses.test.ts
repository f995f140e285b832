/**
 * `responses/create` and `responses/cancel`, called directly with a fake `RpcContext` that records every
 * notification, against the simulator through each kind of upstream (`chatgpt`, `pool`, `openai`): the relayed
 * events equal the simulator's answer, in order, before the result; failover hides a rate-limited account; an
 * exhausted pool and a stream cut mid-way are `-32000` with the broker's code; cancel (by id, by runId, by the
 * connection closing) answers `-32800` and closes the upstream answer (seen on a stand-in upstream); another
 * connection cannot cancel a run; invalid params are refused; a slow `notify` loses and reorders nothing; and no
 * notification or result carries a secret the simulator issued.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { AccountPool } from '../../src/accounts/index.js'
import {
  createResponsesMethods,
  type ResponsesCreateResult,
} from '../../src/app-server/methods/responses-methods.js'
import type { AppServerServices } from '../../src/app-server/methods/services.js'
import { RpcError } from '../../src/app-server/rpc/rpc-error.js'
import type { RpcContext, RpcId, RpcMethod } from '../../src/app-server/rpc/rpc-method.js'
import { Secret } from '../../src/lib/index.js'
import type { ProxyUpstream } from '../../src/proxy/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { MemoryCredentialStore } from '../../src/store/memory-credential-store.js'
import { TokenManager } from '../../src/tokens/index.js'
import { CodexBackend, OpenAIApi } from '../../src/upstream/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const RESPONSES_ROUTE = '/backend-api/codex/responses'
const identity = { originator: 'codex_cli_rs', version: '0.1.0' }
const HOUR_S = 3_600

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

interface Notification {
  method: string
  params: { requestId: RpcId; runId?: string; event: { type: string } & Record<string, unknown> }
}

/** A fake connection: records notifications; `delayMs` makes every notify resolve late. */
function fakeConnection(connectionId = 'conn-1', delayMs = 0) {
  const controller = new AbortController()
  const notifications: Notification[] = []
  let nextId = 1
  return {
    controller,
    notifications,
    context(requestId: RpcId = nextId++): RpcContext {
      return {
        connectionId,
        requestId,
        signal: controller.signal,
        notify: async (method, params) => {
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
          notifications.push({ method, params: params as Notification['params'] })
        },
        broadcast: () => undefined,
      }
    },
  }
}

async function storeWith(sim: Simulator, emails: string[]) {
  const store = new MemoryCredentialStore()
  const accounts = []
  for (const email of emails) {
    const account = await signIn(sim, { email })
    accounts.push(account)
    await store.put(
      accountFromSignIn(
        {
          idToken: Secret.from(account.idToken),
          accessToken: Secret.from(account.accessToken),
          refreshToken: Secret.from(account.refreshToken),
          expiresIn: null,
        },
        { now: Date.now() },
      ),
    )
  }
  const tokens = new TokenManager({
    store,
    issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
  })
  const backend = new CodexBackend({ backendBase: sim.backendBase, identity })
  cleanups.push(() => backend.close())
  return { store, tokens, backend, accounts }
}

function services(
  sim: Simulator,
  base: Awaited<ReturnType<typeof storeWith>>,
  upstream?: ProxyUpstream,
): AppServerServices {
  return {
    store: base.store,
    tokens: base.tokens,
    issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
    backendBase: sim.backendBase,
    identity,
    ...(upstream === undefined ? {} : { upstream }),
  }
}

async function chatgptMethods(sim: Simulator) {
  const base = await storeWith(sim, ['app@example.com'])
  const account = base.accounts[0]
  if (account === undefined) throw new Error('no account')
  const upstream: ProxyUpstream = {
    kind: 'chatgpt',
    tokens: base.tokens,
    accountId: account.accountId,
    backend: base.backend,
  }
  return createResponsesMethods(services(sim, base, upstream))
}

async function poolMethods(sim: Simulator) {
  const base = await storeWith(sim, ['p0@example.com', 'p1@example.com'])
  const pool = new AccountPool({ store: base.store, strategy: 'round-robin' })
  cleanups.push(() => pool.close())
  const upstream: ProxyUpstream = {
    kind: 'pool',
    pool,
    tokens: base.tokens,
    backend: base.backend,
  }
  return { methods: createResponsesMethods(services(sim, base, upstream)), accounts: base.accounts }
}

function method(methods: Record<string, RpcMethod>, name: string): RpcMethod {
  const found = methods[name]
  if (found === undefined) throw new Error(`no method ${name}`)
  return found
}

function body(text = 'hello', extra: Record<string, unknown> = {}) {
  return { model: 'gpt-5.4', input: [{ role: 'user', content: text }], ...extra }
}

function deltas(notifications: readonly Notification[]): string {
  return notifications
    .filter((n) => n.params.event.type === 'response.output_text.delta')
    .map((n) => n.params.event.delta as string)
    .join('')
}

async function rpcFailure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RpcError) return error
    throw error
  }
  throw new Error('expected an RpcError')
}

/** A stand-in OpenAI API that streams valid deltas slowly and records when each answer's connection closed. */
async function startSlowApi(frames: number, delayMs: number) {
  const closed: { finished: boolean }[] = []
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((req, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      res.on('close', () => closed.push({ finished: res.writableFinished }))
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let sent = 0
      const frame = (type: string, fields: Record<string, unknown>) =>
        `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sent, ...fields })}\n\n`
      const tick = (): void => {
        if (res.destroyed) return
        if (sent < frames) {
          res.write(
            frame('response.output_text.delta', {
              item_id: 'msg_1',
              output_index: 0,
              content_index: 0,
              delta: `${String(sent)} `,
            }),
          )
          sent += 1
          const timer = setTimeout(() => {
            timers.delete(timer)
            tick()
          }, delayMs)
          timers.add(timer)
          return
        }
        res.end(frame('response.completed', { response: { id: 'resp_slow' } }))
      }
      tick()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const api = new OpenAIApi({
    apiBase: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/v1`,
  })
  cleanups.push(async () => {
    for (const timer of timers) clearTimeout(timer)
    await api.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve()
      }),
    )
  })
  const upstream: ProxyUpstream = { kind: 'openai', api, apiKey: Secret.from('sk-standin-key') }
  return { upstream, closed }
}

async function slowApiMethods(sim: Simulator, frames = 200, delayMs = 20) {
  const slow = await startSlowApi(frames, delayMs)
  const base = await storeWith(sim, ['slow@example.com'])
  return {
    methods: createResponsesMethods(services(sim, base, slow.upstream)),
    closed: slow.closed,
  }
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('responses/create streams', () => {
  it('chatgpt upstream: deltas join to the answer, in order, all before the result', async () => {
    const sim = await useSimulator()
    sim.control.configure({ streamChunks: 8 })
    const create = method(await chatgptMethods(sim), 'responses/create')
    const conn = fakeConnection()
    const context = conn.context(41)
    const result = (await create.handle(
      { request: body('streaming works'), runId: 'run-a' },
      context,
    )) as ResponsesCreateResult
    // Every notification was recorded before the result resolved (the handler awaited each).
    const types = conn.notifications.map((n) => n.params.event.type)
    expect(types[0]).toBe('response.created')
    expect(types.at(-1)).toBe('response.completed')
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(8)
    expect(deltas(conn.notifications)).toBe('Echo: streaming works')
    const sequence = conn.notifications.map((n) => n.params.event.sequence_number as number)
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b))
    for (const n of conn.notifications) {
      expect(n.method).toBe('responses/event')
      expect(n.params.requestId).toBe(41)
      expect(n.params.runId).toBe('run-a')
    }
    const last = conn.notifications.at(-1)?.params.event as unknown as { response: { id: string } }
    expect(result.response.id).toBe(last.response.id)
    expect(result.response.id).toMatch(/^resp_/)
    expect(result.usage).toMatchObject({ total_tokens: expect.any(Number) as number })
    // The backend got the forced body: stream true, store false.
    const sent = JSON.parse(sim.control.requests(RESPONSES_ROUTE).at(-1)?.body ?? '{}') as Record<
      string,
      unknown
    >
    expect(sent).toMatchObject({ stream: true, store: false, model: 'gpt-5.4' })
  })

  it('pool upstream: one account at 100 % fails over and the client sees no error', async () => {
    const sim = await useSimulator()
    const { methods, accounts } = await poolMethods(sim)
    const create = method(methods, 'responses/create')
    const [a] = accounts
    if (a === undefined) throw new Error('no account')
    sim.control.setQuota({
      accountId: a.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: HOUR_S,
    })
    const callsBefore = sim.control.counters().requests[RESPONSES_ROUTE] ?? 0
    for (let i = 0; i < 2; i++) {
      const conn = fakeConnection()
      const result = (await create.handle(
        { request: body(`try ${String(i)}`) },
        conn.context(),
      )) as ResponsesCreateResult
      expect(deltas(conn.notifications)).toBe(`Echo: try ${String(i)}`)
      expect(result.response.status).toBe('completed')
    }
    // The limit was met upstream (a 429 was answered), yet both calls succeeded on the other account.
    expect((sim.control.counters().requests[RESPONSES_ROUTE] ?? 0) - callsBefore).toBeGreaterThan(2)
    expect(sim.control.counters().responsesByAccount[a.accountId] ?? 0).toBe(0)
  })

  it('openai upstream with an API key', async () => {
    const sim = await useSimulator()
    const base = await storeWith(sim, ['api@example.com'])
    const api = new OpenAIApi({ apiBase: sim.apiBase })
    cleanups.push(() => api.close())
    const upstream: ProxyUpstream = {
      kind: 'openai',
      api,
      apiKey: Secret.from(sim.control.createApiKey().apiKey),
    }
    const create = method(createResponsesMethods(services(sim, base, upstream)), 'responses/create')
    const conn = fakeConnection()
    const result = (await create.handle(
      { request: body('by key') },
      conn.context(),
    )) as ResponsesCreateResult
    expect(deltas(conn.notifications)).toBe('Echo: by key')
    expect(result.response.id).toMatch(/^resp_/)
    expect(sim.control.counters().requests['/v1/responses']).toBe(1)
  })

  it('a slow notify (backpressure) loses and reorders nothing', async () => {
    const sim = await useSimulator()
    sim.control.configure({ streamChunks: 20 })
    const create = method(await chatgptMethods(sim), 'responses/create')
    const fast = fakeConnection('fast')
    await create.handle({ request: body('same text') }, fast.context())
    const slow = fakeConnection('slow', 15)
    await create.handle({ request: body('same text') }, slow.context())
    expect(slow.notifications.length).toBe(fast.notifications.length)
    expect(slow.notifications.map((n) => n.params.event.type)).toEqual(
      fast.notifications.map((n) => n.params.event.type),
    )
    // The simulator pads the text with '.' up to streamChunks deltas.
    expect(deltas(slow.notifications)).toMatch(/^Echo: same text\.*$/)
    expect(deltas(slow.notifications)).toBe(deltas(fast.notifications))
    expect(
      slow.notifications.filter((n) => n.params.event.type === 'response.output_text.delta'),
    ).toHaveLength(20)
  })
})

describe('responses/create failures', () => {
  it('no upstream: -32000 that says how to configure one', async () => {
    const sim = await useSimulator()
    const base = await storeWith(sim, ['none@example.com'])
    const create = method(createResponsesMethods(services(sim, base)), 'responses/create')
    const error = await rpcFailure(create.handle({ request: body() }, fakeConnection().context()))
    expect(error.code).toBe(-32000)
    expect(error.message).toMatch(/No upstream is configured/)
  })

  it('every account exhausted: -32000 ERR_POOL_EXHAUSTED with retryAfterSeconds', async () => {
    const sim = await useSimulator()
    const { methods, accounts } = await poolMethods(sim)
    const create = method(methods, 'responses/create')
    // Positive control: the pool serves.
    await create.handle({ request: body() }, fakeConnection().context())
    for (const account of accounts) {
      sim.control.setQuota({
        accountId: account.accountId,
        primaryUsedPercent: 100,
        resetsInSeconds: 3 * HOUR_S,
      })
    }
    const conn = fakeConnection()
    const error = await rpcFailure(create.handle({ request: body() }, conn.context()))
    expect(error.code).toBe(-32000)
    expect(error.message).toMatch(/^No account can take this request/)
    const data = error.data as { code: string; retryAfterSeconds: number }
    expect(data.code).toBe('ERR_POOL_EXHAUSTED')
    expect(data.retryAfterSeconds).toBeGreaterThan(3 * HOUR_S - 60)
    expect(data.retryAfterSeconds).toBeLessThanOrEqual(3 * HOUR_S + 60)
    expect(JSON.stringify({ message: error.message, data })).not.toContain('usage_limit_reached')
    expect(conn.notifications).toHaveLength(0)
  })

  it('a stream cut mid-way: -32000 after some events', async () => {
    const sim = await useSimulator()
    sim.control.configure({ streamChunks: 6 })
    const create = method(await chatgptMethods(sim), 'responses/create')
    sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    const conn = fakeConnection()
    const error = await rpcFailure(create.handle({ request: body() }, conn.context()))
    expect(error.code).toBe(-32000)
    expect(error.message).toBe('The upstream stream ended before the response was complete.')
    expect(error.data).toMatchObject({ code: 'ERR_STREAM_CUT' })
    expect(conn.notifications.length).toBeGreaterThan(0)
    expect(conn.notifications.map((n) => n.params.event.type)).not.toContain('response.completed')
    // Positive control: without the fault the same call completes.
    const whole = fakeConnection()
    await create.handle({ request: body() }, whole.context())
    expect(whole.notifications.at(-1)?.params.event.type).toBe('response.completed')
  })

  it('invalid params are refused with -32602 and reach no upstream', async () => {
    const sim = await useSimulator()
    const create = method(await chatgptMethods(sim), 'responses/create')
    const context = fakeConnection().context()
    const bad: unknown[] = [
      undefined,
      [],
      { request: 'text' },
      { request: [] },
      { request: { input: 'hi' } },
      { request: { model: 'gpt-5.4' } },
      { request: { model: 'gpt-5.4', input: 42 } },
      { request: body(), runId: '' },
      { request: { model: 'gpt-5.4', input: 'x'.repeat(10 * 1024 * 1024 + 1) } },
    ]
    for (const params of bad) {
      const error = await rpcFailure(create.handle(params, context))
      expect(error.code).toBe(-32602)
    }
    expect(sim.control.counters().requests[RESPONSES_ROUTE] ?? 0).toBe(0)
    // Positive control: a string input just below the limit is accepted.
    await create.handle({ request: { model: 'gpt-5.4', input: 'ok' } }, context)
    expect(sim.control.counters().requests[RESPONSES_ROUTE]).toBe(1)
  })

  it('above the per-connection cap: -32000, while another connection still runs', async () => {
    const sim = await useSimulator()
    const { methods, closed } = await slowApiMethods(sim, 50, 20)
    const create = method(methods, 'responses/create')
    const cancel = method(methods, 'responses/cancel')
    const conn = fakeConnection()
    const running = Array.from({ length: 16 }, (_, i) =>
      rpcFailure(create.handle({ request: body() }, conn.context(i + 1))),
    )
    const over = await rpcFailure(create.handle({ request: body() }, conn.context(99)))
    expect(over.code).toBe(-32000)
    const other = fakeConnection('conn-2')
    const otherRun = rpcFailure(create.handle({ request: body() }, other.context(1)))
    await until(() => other.notifications.length > 0)
    conn.controller.abort()
    other.controller.abort()
    for (const error of await Promise.all([...running, otherRun])) expect(error.code).toBe(-32800)
    await until(() => closed.length === 17)
    expect(await cancel.handle({ requestId: 1 }, conn.context())).toEqual({
      cancelled: false,
    })
  })
})

describe('responses/cancel', () => {
  it('by requestId: -32800, the upstream answer closes early; another connection cannot cancel it', async () => {
    const sim = await useSimulator()
    const { methods, closed } = await slowApiMethods(sim)
    const create = method(methods, 'responses/create')
    const cancel = method(methods, 'responses/cancel')
    const conn = fakeConnection('owner')
    const intruder = fakeConnection('intruder')
    const pending = rpcFailure(create.handle({ request: body() }, conn.context(7)))
    await until(() => conn.notifications.length >= 2)
    // Another connection naming the same id cancels nothing.
    expect(await cancel.handle({ requestId: 7 }, intruder.context(7))).toEqual({ cancelled: false })
    expect(await cancel.handle({ requestId: '7' }, conn.context(8))).toEqual({ cancelled: false })
    const seen = conn.notifications.length
    await until(() => conn.notifications.length > seen)
    expect(await cancel.handle({ requestId: 7 }, conn.context(9))).toEqual({ cancelled: true })
    const error = await pending
    expect(error.code).toBe(-32800)
    expect(error.message).toBe('Request cancelled.')
    await until(() => closed.length === 1)
    expect(closed[0]?.finished).toBe(false)
    const after = conn.notifications.length
    expect(after).toBeLessThan(200)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(conn.notifications.length).toBe(after)
    // A second cancel finds nothing.
    expect(await cancel.handle({ requestId: 7 }, conn.context(10))).toEqual({ cancelled: false })
  })

  it('positive control: an uncancelled slow stream is written to its end', async () => {
    const sim = await useSimulator()
    const { methods, closed } = await slowApiMethods(sim, 10, 5)
    const conn = fakeConnection()
    const result = (await method(methods, 'responses/create').handle(
      { request: body() },
      conn.context(),
    )) as ResponsesCreateResult
    expect(result.response.id).toBe('resp_slow')
    expect(conn.notifications).toHaveLength(11)
    await until(() => closed.length === 1)
    expect(closed[0]?.finished).toBe(true)
  })

  it('by runId, on the simulator', async () => {
    const sim = await useSimulator()
    sim.control.configure({ streamChunks: 50, streamDelayMs: 20 })
    const methods = await chatgptMethods(sim)
    const conn = fakeConnection()
    const pending = rpcFailure(
      method(methods, 'responses/create').handle({ request: body(), runId: 'r1' }, conn.context()),
    )
    await until(() => conn.notifications.length >= 3)
    expect(
      await method(methods, 'responses/cancel').handle(
        { runId: 'r1' },
        fakeConnection('x').context(),
      ),
    ).toEqual({ cancelled: false })
    expect(
      await method(methods, 'responses/cancel').handle({ runId: 'r1' }, conn.context()),
    ).toEqual({
      cancelled: true,
    })
    expect((await pending).code).toBe(-32800)
    expect(conn.notifications.map((n) => n.params.event.type)).not.toContain('response.completed')
  })

  it('the connection closing aborts the run and the upstream answer', async () => {
    const sim = await useSimulator()
    const { methods, closed } = await slowApiMethods(sim)
    const conn = fakeConnection()
    const pending = rpcFailure(
      method(methods, 'responses/create').handle({ request: body() }, conn.context()),
    )
    await until(() => conn.notifications.length >= 2)
    conn.controller.abort(new Error('connection closed'))
    expect((await pending).code).toBe(-32800)
    await until(() => closed.length === 1)
    expect(closed[0]?.finished).toBe(false)
  })

  it('invalid cancel params: -32602', async () => {
    const sim = await useSimulator()
    const cancel = method(await chatgptMethods(sim), 'responses/cancel')
    for (const params of [undefined, [], {}, { requestId: null }, { requestId: 1, runId: 'a' }]) {
      expect((await rpcFailure(cancel.handle(params, fakeConnection().context()))).code).toBe(
        -32602,
      )
    }
  })
})

describe('no secret leaks', () => {
  it('no notification, result or error carries a token the simulator issued', async () => {
    const sim = await useSimulator()
    const create = method(await chatgptMethods(sim), 'responses/create')
    const conn = fakeConnection()
    const texts: string[] = []
    texts.push(JSON.stringify(await create.handle({ request: body() }, conn.context())))
    sim.control.injectFault({ route: RESPONSES_ROUTE, kind: 'cut' })
    const cut = await rpcFailure(create.handle({ request: body() }, conn.context()))
    texts.push(JSON.stringify({ message: cut.message, data: cut.data }))
    sim.control.injectFault({ route: RESPONSES_ROUTE, kind: '401', count: 2 })
    const refused = await rpcFailure(create.handle({ request: body() }, conn.context()))
    texts.push(JSON.stringify({ message: refused.message, data: refused.data }))
    texts.push(...conn.notifications.map((n) => JSON.stringify(n)))
    const everything = texts.join('\n')
    // Positive control: the scan reads real answers.
    expect(everything).toContain('response.completed')
    expect(everything).toContain('ERR_STREAM_CUT')
    const issued = sim.control.issued()
    expect(issued.length).toBeGreaterThan(2)
    for (const secret of issued) expect(everything).not.toContain(secret)
  })
})
