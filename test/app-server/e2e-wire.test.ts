/**
 * The app-server end to end over a real WebSocket: the real methods over a simulator, authenticated with a
 * capability token. A client signs in through `account/login/start` (browser flow with the simulator's
 * auto-approve, then device flow with `/__sim/device/approve`), a second client hears the broadcasts, the pool
 * picks up the new accounts, `responses/create` streams `responses/event` notifications before its result, and
 * every frame either client received is scanned for every secret the simulator issued.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { AccountPool, MemoryPoolStateStore } from '../../src/accounts/index.js'
import { capabilityFromSha256 } from '../../src/app-server/auth/index.js'
import { createAppServerMethods } from '../../src/app-server/methods/create-app-server-methods.js'
import { startAppServer } from '../../src/app-server/server/start-app-server.js'
import type { Simulator } from '../../src/sim/index.js'
import { CodexBackend } from '../../src/upstream/index.js'
import { followAuthorize, freePorts } from '../oauth/support.js'
import { useSimulator } from '../support/sim.js'
import { servicesFor } from './methods-fixture.js'
import { TOKEN, openClient, type Client } from './ws-fixture.js'

const FIRST = 'first@example.com'
const SECOND = 'second@example.com'

interface Message {
  id?: number | string
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: { code: number; message: string }
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function setup(): Promise<{ sim: Simulator; url: () => Promise<Client>; frames: Message[] }> {
  const ports = await freePorts(2)
  const sim = await useSimulator({
    callbackPorts: ports,
    accounts: [
      { email: FIRST, plan: 'pro' },
      { email: SECOND, plan: 'plus' },
    ],
    config: { autoApprove: FIRST, devicePollIntervalSeconds: 0 },
  })
  const base = await servicesFor(sim, { callbackPorts: ports })
  const backend = new CodexBackend({
    backendBase: sim.backendBase,
    identity: { originator: 'codex_cli_rs', version: '0.0.0-test' },
  })
  const pool = new AccountPool({
    store: base.store,
    state: new MemoryPoolStateStore(),
    accountsCacheMs: 0,
  })
  const built = createAppServerMethods({
    ...base,
    pool,
    upstream: { kind: 'pool', pool, tokens: base.tokens, backend },
  })
  const server = await startAppServer({
    methods: built.methods,
    auth: {
      kind: 'capability',
      verifier: capabilityFromSha256(createHash('sha256').update(TOKEN).digest('hex')),
    },
  })
  closers.push(
    () => backend.close(),
    () => pool.close(),
    () => built.close(),
    () => server.close(),
  )
  const frames: Message[] = []
  const open = async (): Promise<Client> => {
    const client = await openClient(server)
    client.ws.on('message', (data: Buffer) => {
      frames.push(JSON.parse(data.toString('utf8')) as Message)
    })
    return client
  }
  return { sim, url: open, frames }
}

let nextId = 0

/** Calls a method and reads on (notifications included) until its answer arrives. */
async function rpc(client: Client, method: string, params?: unknown): Promise<Message> {
  const id = `call-${String((nextId += 1))}`
  client.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })
  return until(client, (message) => message.id === id)
}

/** Reads messages until `match` holds, dropping the ones before. */
async function until(client: Client, match: (message: Message) => boolean): Promise<Message> {
  for (;;) {
    const message = (await client.next()) as Message
    if (match(message)) return message
  }
}

describe('app-server over the wire', () => {
  it('signs in (browser, then device), streams an answer through the pool, and leaks no secret', async () => {
    const { sim, url, frames } = await setup()
    const alice = await url()
    const bob = await url()
    // Methods before initialize are refused; initialize opens the connection (positive control beside it).
    expect((await rpc(alice, 'account/read')).error?.code).toBe(-32002)
    expect((await rpc(alice, 'initialize', { clientInfo: { name: 'e2e' } })).result).toMatchObject({
      serverInfo: { name: 'codex-broker' },
    })
    expect((await rpc(bob, 'initialize')).result).toBeDefined()
    expect((await rpc(alice, 'account/read')).result).toEqual({
      account: null,
      requiresOpenaiAuth: true,
    })

    // Browser sign-in: the client gets the URL, a "browser" follows it, both clients hear the completion.
    const started = (await rpc(alice, 'account/login/start', { type: 'chatgpt' })).result as {
      loginId: string
      authUrl: string
    }
    expect(started.authUrl.startsWith(`${sim.issuer}/oauth/authorize?`)).toBe(true)
    const { page } = await followAuthorize(started.authUrl)
    expect(page.status).toBe(200)
    for (const client of [alice, bob]) {
      const completed = await until(client, (m) => m.method === 'account/login/completed')
      expect(completed.params).toEqual({ loginId: started.loginId, success: true, error: null })
      const updated = await until(client, (m) => m.method === 'account/updated')
      expect(updated.params).toMatchObject({ account: { email: FIRST } })
    }

    // Device sign-in of the second account, approved on the simulator.
    const device = (await rpc(bob, 'account/login/start', { type: 'chatgptDeviceCode' }))
      .result as { loginId: string; userCode: string }
    const approved = await fetch(`${sim.controlBase}/device/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userCode: device.userCode, email: SECOND }),
    })
    expect(approved.ok).toBe(true)
    for (const client of [alice, bob]) {
      const done = await until(client, (m) => m.method === 'account/login/completed')
      expect(done.params).toEqual({ loginId: device.loginId, success: true, error: null })
      const updated = await until(client, (m) => m.method === 'account/updated')
      expect(updated.params).toMatchObject({ account: { email: SECOND } })
    }

    const list = (await rpc(alice, 'account/list')).result as {
      accounts: { email: string; pool?: { usable: boolean } }[]
    }
    expect(list.accounts.map((a) => a.email).sort()).toEqual([FIRST, SECOND])
    expect(list.accounts.every((a) => a.pool?.usable === true)).toBe(true)

    // A streamed answer: events first, then the result, on the asking connection only.
    alice.send({
      jsonrpc: '2.0',
      id: 'run-1',
      method: 'responses/create',
      params: { request: { model: 'gpt-5.4', input: 'Say hello' } },
    })
    const events: Record<string, unknown>[] = []
    const final = await until(alice, (m) => {
      if (m.method === 'responses/event') events.push(m.params?.event as Record<string, unknown>)
      return m.id === 'run-1'
    })
    expect(final.error, JSON.stringify(final.error)).toBeUndefined()
    const text = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => String(event.delta))
      .join('')
    expect(text.length).toBeGreaterThan(0)
    const response = final.result?.response as { id: string; status: string }
    expect(response.status).toBe('completed')
    expect(events.at(-1)?.type).toBe('response.completed')
    expect(await bob.nextWithin(200)).toBe('silence')

    // Rate limits of a pooled account, read live.
    const limits = (await rpc(alice, 'account/rateLimits/read')).result as {
      rateLimits: { primary: { usedPercent: number } | null }
    }
    expect(typeof limits.rateLimits.primary?.usedPercent).toBe('number')

    // Canary: the simulator issued secrets, and none of them is in any frame either client received.
    const issued = sim.control.issued()
    expect(issued.length).toBeGreaterThan(3)
    const wire = JSON.stringify(frames)
    expect(wire).toContain(started.loginId) // positive control: the scan sees the frames' contents
    for (const secret of issued) expect(wire).not.toContain(secret)
  })

  it('logs out over the wire and tells every client', async () => {
    const { sim, url } = await setup()
    const alice = await url()
    const bob = await url()
    await rpc(alice, 'initialize')
    await rpc(bob, 'initialize')
    const started = (await rpc(alice, 'account/login/start', { type: 'chatgpt' })).result as {
      authUrl: string
    }
    await followAuthorize(started.authUrl)
    const updated = await until(bob, (m) => m.method === 'account/updated')
    const id = (updated.params?.account as { id: string }).id
    await until(alice, (m) => m.method === 'account/updated')
    expect((await rpc(alice, 'account/logout', { accountId: id })).result).toEqual({})
    const removed = await until(bob, (m) => m.method === 'account/updated')
    expect(removed.params).toEqual({ account: null, removedAccountId: id })
    const read = (await rpc(alice, 'account/read')).result
    expect(read).toEqual({ account: null, requiresOpenaiAuth: true })
    expect(sim.control.issued().length).toBeGreaterThan(0)
  })
})
