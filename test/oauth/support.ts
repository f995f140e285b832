/**
 * Test fixture for the sign-in tests: free loopback ports (the tests never bind 1455 or
 * 1457), a "browser" that follows the simulator's authorize redirect to the callback server, raw HTTP over
 * `node:net` for the Host matrix, a probe that a port refuses connections, and a clock that moves on its own.
 */
import { connect } from 'node:net'
import { freeLoopbackPort } from '../../src/cli/free-port.js'
import { type Clock, ManualClock, systemClock } from '../../src/lib/index.js'
import {
  BIND_RETRY_DELAY_MS,
  buildAuthorizeUrl,
  createPkcePair,
  createState,
  type IssuerConfig,
} from '../../src/oauth/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'

/** `count` distinct free loopback ports, below the kernel's ephemeral range (see src/cli/free-port.ts). */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = []
  while (ports.length < count) ports.push(await freeLoopbackPort(ports))
  return ports
}

/** The issuer config of a simulator. */
export function issuerOf(sim: Simulator, extra: Partial<IssuerConfig> = {}): IssuerConfig {
  return { issuer: sim.issuer, clientId: CODEX_CLIENT_ID, ...extra }
}

/** A fetched page: status, headers and body text. */
export interface Page {
  status: number
  headers: Headers
  body: string
}

/** GET without following redirects, read whole. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Page> {
  const response = await fetch(url, { redirect: 'manual', headers })
  return { status: response.status, headers: response.headers, body: await response.text() }
}

/**
 * What a browser does with an authorize URL when the simulator auto-approves: GET it, take the `Location` of
 * the 302 (the callback with `code` and `state`), and GET that too. Returns the callback URL and its page.
 */
export async function followAuthorize(
  authorizeUrl: string,
): Promise<{ callback: URL; page: Page }> {
  const callback = await authorizeRedirect(authorizeUrl)
  return { callback, page: await get(callback.href) }
}

/** GETs an authorize URL and returns the redirect target (without visiting it). */
export async function authorizeRedirect(authorizeUrl: string): Promise<URL> {
  const response = await fetch(authorizeUrl, { redirect: 'manual' })
  const location = response.headers.get('location')
  await response.body?.cancel()
  if (response.status !== 302 || location === null) {
    throw new Error(`authorize answered ${response.status}`)
  }
  return new URL(location)
}

/** The answer to a raw request: the status (0 if the server closed without one) and the whole text. */
export interface RawAnswer {
  status: number
  text: string
}

/** Sends `request` as is over a fresh TCP connection and reads until the server closes it. */
export function rawRequest(port: number, request: string): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(5_000, () => {
      socket.destroy(new Error('raw request timed out'))
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ status: match ? Number(match[1]) : 0, text })
    })
    socket.write(request)
  })
}

/** Resolves with the error code of a TCP connect to the port (`ECONNREFUSED` once nothing listens). */
export function connectResult(port: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve('CONNECTED')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? 'ERROR')
    })
  })
}

/** Polls until a connect is refused; returns the milliseconds it took (Infinity if not within `limitMs`). */
export async function msUntilRefused(port: number, limitMs = 1_000): Promise<number> {
  const start = performance.now()
  while (performance.now() - start <= limitMs) {
    if ((await connectResult(port)) === 'ECONNREFUSED') return performance.now() - start
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Infinity
}

/**
 * A `ManualClock` that advances itself by each sleep as soon as it is requested, recording the delays: the poll
 * loops run at full speed while the clock (and a simulator sharing it) sees the time pass.
 */
export function selfAdvancingClock(start = Date.UTC(2026, 0, 1)): {
  clock: Clock
  manual: ManualClock
  sleeps: number[]
} {
  const manual = new ManualClock(start)
  const sleeps: number[] = []
  const clock: Clock = {
    now: () => manual.now(),
    sleep: (ms, signal) => {
      sleeps.push(ms)
      const slept = manual.sleep(ms, signal)
      manual.advance(ms)
      return slept
    },
  }
  return { clock, manual, sleeps }
}

/** A promise with its resolve and reject. */
export function deferred<T = void>(): {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: Error) => void
} {
  let resolve: (value: T) => void = () => undefined
  let reject: (error: Error) => void = () => undefined
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** The rejection of a promise that must reject (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

/** Signs `email` in at the simulator's authorize endpoint (auto-approve) and returns a fresh code. */
export async function authorizeCodeFor(
  sim: Simulator,
  email: string,
  redirectUri = 'http://127.0.0.1:1455/auth/callback',
): Promise<{ code: string; codeVerifier: string; redirectUri: string }> {
  sim.control.addAccount({ email })
  sim.control.configure({ autoApprove: email })
  const pkce = createPkcePair()
  const state = createState()
  const url = buildAuthorizeUrl(issuerOf(sim), {
    redirectUri,
    codeChallenge: pkce.codeChallenge,
    state,
  })
  const callback = await authorizeRedirect(url)
  const code = callback.searchParams.get('code')
  if (code === null || callback.searchParams.get('state') !== state) throw new Error('no code')
  return { code, codeVerifier: pkce.codeVerifier.reveal(), redirectUri }
}

/** A fetch that answers every request with `make()` and records the requests. */
export function cannedFetch(make: (request: Request) => Response | Promise<Response>): {
  fetch: typeof fetch
  requests: Request[]
} {
  const requests: Request[] = []
  const canned: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    requests.push(request)
    return make(request)
  }
  return { fetch: canned, requests }
}

/** A JSON response. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  })
}

/** The system clock, except that bind-retry pauses (200 ms) are recorded and skipped. */
export function fastRetryClock(): { clock: Clock; retries: number[] } {
  const retries: number[] = []
  return {
    retries,
    clock: {
      now: () => systemClock.now(),
      sleep: (ms, signal) => {
        if (ms !== BIND_RETRY_DELAY_MS) return systemClock.sleep(ms, signal)
        retries.push(ms)
        return Promise.resolve()
      },
    },
  }
}

/** Closes a server and drops its open connections (test teardown). */
export function closeServer(server: {
  close(callback: () => void): unknown
  closeAllConnections(): void
}): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => {
      resolve()
    })
    server.closeAllConnections()
  })
}
