/**
 * Test fixture for the proxy: a simulator with a signed-in account behind a `TokenManager` over a
 * `MemoryCredentialStore`, a proxy started in front of it (closed after the test), a captured log, helpers that
 * call the proxy with any headers (undici, which sets no `Origin`) or as raw bytes over `node:net` (for Host
 * values and request lines no client would send), and the count of upstream calls that proves a refusal cost
 * nothing upstream.
 */
import { connect } from 'node:net'
import { Readable, Writable } from 'node:stream'
import { afterEach } from 'vitest'
import { request } from 'undici'
import { createLogger, Secret } from '../../src/lib/index.js'
import { startProxy, type RunningProxy, type StartProxyOptions } from '../../src/proxy/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { MemoryCredentialStore } from '../../src/store/memory-credential-store.js'
import { TokenManager } from '../../src/tokens/index.js'
import { CodexBackend, OpenAIApi } from '../../src/upstream/index.js'
import { signIn, type SignedInAccount } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

export const RESPONSES_ROUTE = '/backend-api/codex/responses'
export const MODELS_ROUTE = '/backend-api/codex/models'
export const API_ROUTE = '/v1/responses'
export const API_MODELS_ROUTE = '/v1/models'
const identity = { originator: 'codex_cli_rs', version: '0.1.0' }

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

/** A proxy in front of the simulator. */
export interface ProxyFixture {
  sim: Simulator
  account: SignedInAccount
  proxy: RunningProxy
  logs: string[]
  /** Requests that reached the simulator's backend or API routes. */
  upstreamCalls(): number
  /** The proxy's token header. */
  auth(): Record<string, string>
}

/** Starts a simulator, signs an account in and starts a proxy (chatgpt mode unless `openai`). */
export async function useProxy(
  options: { openai?: boolean } & Partial<Omit<StartProxyOptions, 'upstream'>> = {},
): Promise<ProxyFixture> {
  const { openai, ...rest } = options
  const sim = await useSimulator()
  const account = await signIn(sim, { email: 'proxy@example.com' })
  const logs: string[] = []
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString('utf8'))
        callback()
      },
    }),
  })
  let upstream: StartProxyOptions['upstream']
  if (openai === true) {
    const api = new OpenAIApi({ apiBase: sim.apiBase })
    cleanups.push(() => api.close())
    upstream = { kind: 'openai', api, apiKey: Secret.from(sim.control.createApiKey().apiKey) }
  } else {
    const store = new MemoryCredentialStore()
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
    const tokens = new TokenManager({
      store,
      issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
    })
    const backend = new CodexBackend({ backendBase: sim.backendBase, identity })
    cleanups.push(() => backend.close())
    upstream = { kind: 'chatgpt', tokens, accountId: account.accountId, backend }
  }
  const proxy = await startProxy({ upstream, logger, ...rest })
  cleanups.unshift(() => proxy.close())
  return {
    sim,
    account,
    proxy,
    logs,
    // The counters, not the recorded requests: those keep only the newest 100 per route.
    upstreamCalls: () => {
      const counted = sim.control.counters().requests
      return [RESPONSES_ROUTE, MODELS_ROUTE, API_ROUTE, API_MODELS_ROUTE].reduce(
        (sum, route) => sum + (counted[route] ?? 0),
        0,
      )
    },
    auth: () => ({ 'x-proxy-token': proxy.token.reveal() }),
  }
}

/** A Responses request body. */
export function responsesBody(input = 'hello', stream = true): Record<string, unknown> {
  return { model: 'gpt-5.4', input: [{ role: 'user', content: input }], stream }
}

/** An answer read to its end. */
export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

/** Calls the proxy with exactly these headers (undici adds only host, content-length and connection). */
export async function call(
  proxy: RunningProxy,
  path: string,
  init: {
    method?: 'GET' | 'POST' | 'PUT'
    headers?: Record<string, string>
    body?: string | Readable
  } = {},
): Promise<Answer> {
  const answer = await request(`${proxy.url}${path}`, {
    method: init.method ?? 'POST',
    headers: init.headers ?? {},
    body: init.body ?? null,
  })
  return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() }
}

/** POSTs JSON with the token. */
export function postJson(
  fixture: ProxyFixture,
  body: unknown,
  headers: Record<string, string> = {},
  path = '/v1/responses',
): Promise<Answer> {
  return call(fixture.proxy, path, {
    headers: { 'content-type': 'application/json', ...fixture.auth(), ...headers },
    body: JSON.stringify(body),
  })
}

/** Sends raw bytes and reads until the server closes; answers the status and the whole text. */
export function rawHttp(
  port: number,
  text: string,
  address = '127.0.0.1',
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, address)
    let received = ''
    socket.setEncoding('latin1')
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (chunk: string) => {
      received += chunk
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1] ?? '0')
      resolve({ status, text: received })
    })
    socket.write(text)
  })
}
