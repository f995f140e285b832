/**
 * Helpers for the real-client proxy tests (openai-sdk, upstream-faults, token-rotation): the official `openai`
 * SDK pointed at the proxy, a canary scan over answers and logs, a `node:http` stand-in for the OpenAI API that
 * records when its answer's connection closes (the upstream-side view of a client abort), a proxy over a
 * stand-in, a proxy over a simulator on a manual clock (to expire an access token mid-flight), and small
 * readers for chunked HTTP and SSE text.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import OpenAI from 'openai'
import { afterEach, expect } from 'vitest'
import { createLogger, ManualClock, Secret } from '../../src/lib/index.js'
import { startProxy, type RunningProxy, type StartProxyOptions } from '../../src/proxy/index.js'
import { CODEX_CLIENT_ID, startSimulator, type Simulator } from '../../src/sim/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { MemoryCredentialStore } from '../../src/store/memory-credential-store.js'
import { TokenManager } from '../../src/tokens/index.js'
import { CodexBackend, OpenAIApi } from '../../src/upstream/index.js'
import { signIn, type SignedInAccount } from '../support/sim-tokens.js'
import type { ProxyFixture } from './proxy-fixture.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  // Proxies first (they hold connections to the upstreams), then everything else.
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

/**
 * The official SDK against the proxy, exactly as docs/proxy.md shows it (its default fetch: Node's undici, which
 * adds `Sec-Fetch-Mode: cors`), with no retries (a retry would hide a failure and double the upstream count).
 */
export function sdkClient(
  proxy: RunningProxy,
  options: { apiKey?: string; defaultHeaders?: Record<string, string> } = {},
): OpenAI {
  return new OpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: options.apiKey ?? proxy.token.reveal(),
    maxRetries: 0,
    timeout: 15_000,
    ...(options.defaultHeaders === undefined ? {} : { defaultHeaders: options.defaultHeaders }),
  })
}

/**
 * The headers the SDK's default fetch sends, seen by a plain `node:http` server (not the proxy): what the proxy's
 * browser gate has to let through.
 */
export async function sdkRequestHeaders(): Promise<Record<string, string | string[] | undefined>> {
  let seen: Record<string, string | string[] | undefined> = {}
  const server = createServer((req, res) => {
    seen = { ...req.headers }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"object":"list","data":[]}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${String(port)}/v1`,
      apiKey: 'sk-header-probe',
      maxRetries: 0,
    })
    await client.models.list()
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve()
      }),
    )
  }
  return seen
}

/** Asserts that no issued secret and not the proxy token appear in `texts` or in any log line (CN canary). */
export function expectNoSecrets(
  fixture: Pick<ProxyFixture, 'sim' | 'proxy' | 'logs'>,
  texts: readonly string[],
): void {
  const secrets = [...fixture.sim.control.issued(), fixture.proxy.token.reveal()]
  expect(secrets.length).toBeGreaterThan(1)
  let scanned = 0
  for (const text of [...texts, ...fixture.logs]) {
    scanned += 1
    for (const secret of secrets) expect(text).not.toContain(secret)
  }
  expect(scanned).toBeGreaterThan(0)
}

/** Headers and body of an answer as one text, for canary scans. */
export function answerText(answer: { headers: unknown; text: string }): string {
  return `${JSON.stringify(answer.headers)}\n${answer.text}`
}

/** A capturing debug logger. */
export function captureLogs(): { logs: string[]; logger: ReturnType<typeof createLogger> } {
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
  return { logs, logger }
}

/** What the stand-in API saw of one request. */
export interface StandInExchange {
  body: string
  authorization: string | undefined
  receivedAt: number
  /** When the answer's connection closed, and whether the whole answer had been written by then. */
  closed: { at: number; finished: boolean } | null
}

/** A `node:http` stand-in for `POST /v1/responses` of the OpenAI API that streams slowly. */
export interface StandInApi {
  apiBase: string
  exchanges: StandInExchange[]
}

/**
 * Starts the stand-in: every `POST /v1/responses` answers `frames` SSE delta events `delayMs` apart, then
 * `response.completed`. It records each request and the moment its answer's connection closed.
 */
export async function startStandInApi(options: {
  frames: number
  delayMs: number
}): Promise<StandInApi> {
  const exchanges: StandInExchange[] = []
  const timers = new Set<NodeJS.Timeout>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const exchange: StandInExchange = {
        body: Buffer.concat(chunks).toString('utf8'),
        authorization: req.headers.authorization,
        receivedAt: Date.now(),
        closed: null,
      }
      exchanges.push(exchange)
      res.on('close', () => {
        exchange.closed = { at: Date.now(), finished: res.writableFinished }
      })
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      let sent = 0
      const tick = (): void => {
        if (res.destroyed) return
        if (sent < options.frames) {
          res.write(sseFrame('response.output_text.delta', { delta: `${String(sent)} ` }, sent))
          sent += 1
          const timer = setTimeout(() => {
            timers.delete(timer)
            tick()
          }, options.delayMs)
          timers.add(timer)
          return
        }
        res.end(sseFrame('response.completed', { response: { id: 'resp_standin' } }, sent))
      }
      tick()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const timer of timers) clearTimeout(timer)
    server.closeAllConnections()
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve()
      }),
    )
  })
  const { port } = server.address() as AddressInfo
  return { apiBase: `http://127.0.0.1:${String(port)}/v1`, exchanges }
}

function sseFrame(type: string, fields: Record<string, unknown>, sequence: number): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence, ...fields })}\n\n`
}

/** A proxy in API-key mode over any API base (the stand-in), with captured logs. */
export async function startProxyOverApi(
  apiBase: string,
  options: Partial<Omit<StartProxyOptions, 'upstream'>> = {},
): Promise<{ proxy: RunningProxy; logs: string[]; apiKey: string }> {
  const { logs, logger } = captureLogs()
  const api = new OpenAIApi({ apiBase })
  const apiKey = `sk-standin-${'k'.repeat(32)}`
  const proxy = await startProxy({
    upstream: { kind: 'openai', api, apiKey: Secret.from(apiKey) },
    logger,
    ...options,
  })
  cleanups.unshift(() => api.close())
  cleanups.unshift(() => proxy.close())
  return { proxy, logs, apiKey }
}

/** A chatgpt-mode proxy whose simulator and token manager share a manual clock. */
export interface ClockedProxy {
  sim: Simulator
  clock: ManualClock
  account: SignedInAccount
  proxy: RunningProxy
  logs: string[]
}

/**
 * Starts a simulator on a `ManualClock`, signs an account in, and starts a chatgpt-mode proxy whose
 * `TokenManager` reads the same clock: advancing it expires the access token both for the simulator (which then
 * refuses it) and for the token manager (which then refreshes before sending).
 */
export async function useClockedProxy(
  options: Partial<Omit<StartProxyOptions, 'upstream'>> = {},
): Promise<ClockedProxy> {
  const clock = new ManualClock(Date.now())
  const sim = await startSimulator({ now: () => clock.now() })
  cleanups.push(() => sim.close())
  const account = await signIn(sim, { email: 'rotation@example.com' })
  const store = new MemoryCredentialStore()
  await store.put(
    accountFromSignIn(
      {
        idToken: Secret.from(account.idToken),
        accessToken: Secret.from(account.accessToken),
        refreshToken: Secret.from(account.refreshToken),
        expiresIn: null,
      },
      { now: clock.now() },
    ),
  )
  const tokens = new TokenManager({
    store,
    clock,
    issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
  })
  const backend = new CodexBackend({
    backendBase: sim.backendBase,
    identity: { originator: 'codex_cli_rs', version: '0.1.0' },
  })
  const { logs, logger } = captureLogs()
  const proxy = await startProxy({
    upstream: { kind: 'chatgpt', tokens, accountId: account.accountId, backend },
    logger,
    ...options,
  })
  cleanups.unshift(() => backend.close())
  cleanups.unshift(() => proxy.close())
  return { sim, clock, account, proxy, logs }
}

/** Splits a raw HTTP/1.1 answer into its status, lower-cased headers and (de-chunked) body. */
export function parseRawAnswer(raw: string): {
  status: number
  headers: Record<string, string>
  body: string
} {
  const split = raw.indexOf('\r\n\r\n')
  expect(split).toBeGreaterThan(0)
  const [statusLine = '', ...lines] = raw.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = raw.slice(split + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? '0'), headers, body }
}

/** Decodes a complete chunked body (latin1 text in, UTF-8 text out); throws on bad framing. */
function dechunk(text: string): string {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const eol = text.indexOf('\r\n', at)
    if (eol < 0) throw new Error('chunked body: missing size line')
    const size = Number.parseInt(text.slice(at, eol), 16)
    if (!Number.isInteger(size) || size < 0) throw new Error('chunked body: bad size')
    if (size === 0) {
      if (text.slice(eol, eol + 4) !== '\r\n\r\n') throw new Error('chunked body: bad end')
      return Buffer.concat(parts).toString('utf8')
    }
    parts.push(Buffer.from(text.slice(eol + 2, eol + 2 + size), 'latin1'))
    if (text.slice(eol + 2 + size, eol + 4 + size) !== '\r\n') throw new Error('chunk: no CRLF')
    at = eol + 4 + size
  }
}
