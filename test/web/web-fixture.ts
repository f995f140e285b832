/**
 * Test fixture for the web handler: a simulator, a handler pointed at it (device polling without delay, a manual
 * clock for the timeouts), and a `call` helper that dresses a request the way the app's own page sends it
 * (same-origin Fetch Metadata, the static header, JSON). `signIn` walks the whole device sign-in as a person
 * would, approving the code at the simulator.
 */
import { afterEach, expect } from 'vitest'
import { ManualClock } from '../../src/lib/index.js'
import type { Simulator } from '../../src/sim/index.js'
import { createCodexHandler, type CodexHandler } from '../../src/web/index.js'
import type { CodexHandlerOptions } from '../../src/web/handler-options.js'
import { useSimulator } from '../support/sim.js'

export const ORIGIN = 'http://127.0.0.1:3000'
export const BASE = '/api/codex'
export const COOKIE_SECRET = 'test-cookie-secret-0123456789-abcdefghijklmnop'

const handlers = new Set<CodexHandler>()
afterEach(async () => {
  await Promise.all([...handlers].map((handler) => handler.close()))
  handlers.clear()
})

/** A handler, a simulator and a clock. */
export interface WebFixture {
  readonly sim: Simulator
  readonly handler: CodexHandler
  readonly clock: ManualClock
  readonly call: (path: string, init?: CallInit) => Promise<Response>
}

/** How a test request differs from the app page's own. */
export interface CallInit {
  readonly method?: string
  readonly body?: unknown
  readonly cookie?: string | null
  /** Headers to set (a null value removes a default one). */
  readonly headers?: Readonly<Record<string, string | null>>
  readonly origin?: string
}

/**
 * A request as the app page sends it, with overrides.
 * @example
 * const response = await handler(webRequest('/session', { method: 'POST', body: {} }))
 */
export function webRequest(path: string, init: CallInit = {}): Request {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST')
  const headers: Record<string, string | null> = {
    'sec-fetch-site': 'same-origin',
    'x-codex-broker': '1',
    ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(init.cookie === undefined || init.cookie === null ? {} : { cookie: init.cookie }),
    ...init.headers,
  }
  const real = new Headers()
  for (const [name, value] of Object.entries(headers)) if (value !== null) real.set(name, value)
  return new Request(`${init.origin ?? ORIGIN}${BASE}${path}`, {
    method,
    headers: real,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
}

/** Starts a handler against `sim` (a new simulator sharing the handler's clock when absent). */
export async function useWebHandler(
  options: Partial<CodexHandlerOptions> = {},
  sim?: Simulator,
): Promise<WebFixture> {
  // One clock for the handler and the simulator, so tokens expire for both at once.
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(Date.now())
  const simulator = sim ?? (await useSimulator({ now: () => clock.now() }))
  simulator.control.configure({ devicePollIntervalSeconds: 0 })
  const handler = createCodexHandler({
    cookieSecret: COOKIE_SECRET,
    basePath: BASE,
    upstream: { kind: 'chatgpt', issuer: simulator.issuer, backendBase: simulator.backendBase },
    clock,
    ...options,
  })
  handlers.add(handler)
  return {
    sim: simulator,
    handler,
    clock,
    call: (path, init) => handler(webRequest(path, init)),
  }
}

/** The `name=value` part of a `Set-Cookie`, for sending back. */
export function cookieOf(response: Response): string {
  const [setCookie] = response.headers.getSetCookie()
  if (setCookie === undefined) throw new Error(`no Set-Cookie on a ${response.status} answer`)
  return setCookie.split(';')[0] ?? ''
}

/** Starts an anonymous session and answers its cookie. */
export async function newSession(fixture: WebFixture): Promise<string> {
  const response = await fixture.call('/session', { body: {} })
  expect(response.status).toBe(200)
  return cookieOf(response)
}

/**
 * The whole device sign-in: session, start, approval at the simulator, status poll. Answers the signed-in cookie
 * and the pre-login one.
 */
export async function signIn(
  fixture: WebFixture,
  email = 'web-user@example.com',
): Promise<{ cookie: string; preLoginCookie: string; userCode: string }> {
  fixture.sim.control.addAccount({ email, plan: 'plus' })
  const preLoginCookie = await newSession(fixture)
  const start = await fixture.call('/login/start', { body: {}, cookie: preLoginCookie })
  expect(start.status).toBe(200)
  const { userCode, loginUrl } = (await start.json()) as { userCode: string; loginUrl: string }
  expect(loginUrl).toBe(`${fixture.sim.issuer}/codex/device`)
  fixture.sim.control.approveDevice({ userCode, email })
  const status = await fixture.call('/status', { cookie: preLoginCookie })
  expect(status.status).toBe(200)
  expect(await status.json()).toMatchObject({
    state: 'logged_in',
    account: { email, plan: 'plus' },
  })
  return { cookie: cookieOf(status), preLoginCookie, userCode }
}

/** Reads an NDJSON body into its events. */
export async function ndjsonEvents(response: Response): Promise<Record<string, unknown>[]> {
  const text = await response.text()
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}
