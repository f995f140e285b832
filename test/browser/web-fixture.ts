/**
 * The shared setup of the web surface's browser tests: a simulator and the server of `codex-broker web` against
 * it (started and stopped by the caller, so a whole file can share one signed-in browser context), the sign-in a
 * person does through the page and its popup, the session cookie the browser got, and the oracles read from Node:
 * the server's own view of a session (`GET /status` with that cookie) and the simulator's counts of the requests
 * that only a sign-in, a run or a sign-out would cause.
 */
import type { BrowserContext, Cookie, Page } from 'playwright-core'
import { startWebServer, WEB_API_BASE, type RunningWebServer } from '../../src/cli/web-server.js'
import { CODEX_CLIENT_ID } from '../../src/oauth/index.js'
import { CODEX_ROUTES } from '../../src/web/codex-dispatch.js'
import { startSimulator, type Simulator } from '../../src/sim/index.js'
import type { Endpoint } from '../proxy/xo-pages.js'

export const COOKIE_SECRET = 'browser-xo-cookie-secret-0123456789abcdef-web'
/** The session cookie's name (prefixed, Secure, HttpOnly). */
export const SESSION_COOKIE = '__Host-Http-codex-broker'
/** The account every sign-in of these tests approves. */
export const VICTIM_EMAIL = 'victim@example.com'

/**
 * The API routes of the handler (src/web/codex-dispatch.ts), with a body each would accept, so a cell that got
 * past the gates would really act (start a sign-in, run, sign out) instead of failing on its body.
 */
export const WEB_ROUTES: readonly Endpoint[] = CODEX_ROUTES.map(({ method, path }) => ({
  method,
  path: `${WEB_API_BASE}${path}`,
  ...(method === 'POST' ? { body: path === '/run/stream' ? '{"prompt":"xo"}' : '{}' } : {}),
}))

/** The simulator routes only a sign-in, a run or a sign-out reach. */
export const SIM_ROUTES = {
  usercode: '/api/accounts/deviceauth/usercode',
  deviceToken: '/api/accounts/deviceauth/token',
  responses: '/backend-api/codex/responses',
  revoke: '/oauth/revoke',
} as const

/** A simulator and the web server in front of it. */
export interface WebStack {
  readonly sim: Simulator
  readonly web: RunningWebServer
  close(): Promise<void>
}

/** Starts the simulator (one victim account, no device-poll wait) and the web server against it. */
export async function startWebStack(): Promise<WebStack> {
  const sim = await startSimulator({ accounts: [{ email: VICTIM_EMAIL, plan: 'pro' }] })
  sim.control.configure({ devicePollIntervalSeconds: 0, streamChunks: 3, streamDelayMs: 0 })
  const web = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    loginOrigins: [new URL(sim.issuer).origin],
    handler: {
      cookieSecret: COOKIE_SECRET,
      upstream: {
        kind: 'chatgpt',
        issuer: sim.issuer,
        clientId: CODEX_CLIENT_ID,
        backendBase: sim.backendBase,
      },
    },
  })
  return {
    sim,
    web,
    close: async () => {
      await web.close()
      await sim.close()
    },
  }
}

/** The counts of the simulator requests that only a sign-in, a run or a sign-out cause. */
export interface SideEffectCounts {
  usercode: number
  deviceToken: number
  responses: number
  revoke: number
  tokenCalls: number
}

/** Reads {@link SideEffectCounts} now. */
export function sideEffectCounts(sim: Simulator): SideEffectCounts {
  const { requests, tokenCalls } = sim.control.counters()
  return {
    usercode: requests[SIM_ROUTES.usercode] ?? 0,
    deviceToken: requests[SIM_ROUTES.deviceToken] ?? 0,
    responses: requests[SIM_ROUTES.responses] ?? 0,
    revoke: requests[SIM_ROUTES.revoke] ?? 0,
    tokenCalls,
  }
}

/** What the server says of a session. */
export interface ServerStatus {
  httpStatus: number
  /** The answer's `state`, or `error <code>` for a refusal. */
  state: string
  email: string | null
}

/** `GET /status` from Node with the session cookie `value` (the server's own view, no browser involved). */
export async function serverStatus(web: RunningWebServer, value: string): Promise<ServerStatus> {
  const response = await fetch(`${web.url}${WEB_API_BASE}/status`, {
    headers: { 'x-codex-broker': '1', cookie: `${SESSION_COOKIE}=${value}` },
  })
  const body = (await response.json()) as {
    state?: unknown
    account?: { email?: unknown }
    error?: { code?: unknown }
  }
  const refused = typeof body.error?.code === 'string' ? `error ${body.error.code}` : null
  return {
    httpStatus: response.status,
    state: typeof body.state === 'string' ? body.state : (refused ?? JSON.stringify(body)),
    email: typeof body.account?.email === 'string' ? body.account.email : null,
  }
}

/** The context's session cookie for `url`; throws if there is none. */
export async function sessionCookie(context: BrowserContext, url: string): Promise<Cookie> {
  const cookie = (await context.cookies(url)).find((candidate) => candidate.name === SESSION_COOKIE)
  if (cookie === undefined) throw new Error(`no ${SESSION_COOKIE} cookie for ${url}`)
  return cookie
}

/** The `data-state` of the page's `<CodexAuth>` (`checking`, `logged_out`, `pending`, `logged_in`). */
export async function appState(page: Page): Promise<string> {
  return (await page.getByTestId('codex-auth').getAttribute('data-state')) ?? '(none)'
}

/** Waits (≤ `timeout` ms) until the app shows `state`. */
export async function waitForAppState(page: Page, state: string, timeout = 10_000): Promise<void> {
  await page.locator(`[data-testid="codex-auth"][data-state="${state}"]`).waitFor({ timeout })
}

/** Options of {@link signInThroughPage}. */
export interface PageSignInOptions {
  /** Where the app is opened (default: the server's `127.0.0.1` URL). */
  readonly appUrl?: string
  /** Runs once the popup shows the device page and the app shows the code, before the person approves. */
  readonly beforeApprove?: (steps: { page: Page; popup: Page; code: string }) => Promise<void>
  /**
   * Closes the popup if it is still open once the app shows the account, as the person would (default). The app's
   * own attempt to close it does not work in Chromium (see web-popup.test.ts).
   */
  readonly closePopup?: boolean
}

/** What {@link signInThroughPage} answers. */
export interface PageSignIn {
  readonly page: Page
  readonly popup: Page
  /** The response headers of the app page. */
  readonly pageHeaders: Record<string, string>
  readonly cookie: Cookie
}

/**
 * Signs in as a person would: opens the app, clicks "Sign in with ChatGPT", types the code the page shows into the
 * simulator's device page in the popup, approves, and waits until the page shows the account (which it learns
 * from `GET /status` alone). Answers the app page, the popup, the page's headers and the session cookie the
 * browser ended up with.
 */
export async function signInThroughPage(
  context: BrowserContext,
  stack: WebStack,
  options: PageSignInOptions = {},
): Promise<PageSignIn> {
  const appUrl = options.appUrl ?? stack.web.url
  const page = await context.newPage()
  const loaded = await page.goto(appUrl)
  const signIn = page.getByRole('button', { name: /sign in/i })
  await signIn.waitFor({ timeout: 10_000 })
  const [popup] = await Promise.all([page.waitForEvent('popup'), signIn.click()])
  await popup.waitForURL(`${stack.sim.issuer}/codex/device`, { timeout: 10_000 })
  const code = await page.getByTestId('codex-auth-user-code').innerText({ timeout: 10_000 })
  await options.beforeApprove?.({ page, popup, code })
  await popup.fill('#user_code', code)
  await popup.selectOption('#email', VICTIM_EMAIL)
  await popup.getByRole('button', { name: 'Approve' }).click()
  await page.getByText(VICTIM_EMAIL).waitFor({ timeout: 15_000 })
  if (options.closePopup !== false && !popup.isClosed()) await popup.close()
  return {
    page,
    popup,
    pageHeaders: (await loaded?.allHeaders()) ?? {},
    cookie: await sessionCookie(context, appUrl),
  }
}

/**
 * Signs in the quick way, from the app's own page at `appUrl` but without its UI: the page calls
 * `POST /login/start` itself, the simulator approves the code (as the person would on the device page), and the
 * page's `GET /status` completes the sign-in, so the browser stores the new session cookie from the answer. The
 * page is reloaded and shows the account. Answers the page and the cookie.
 */
export async function signInThroughApi(
  context: BrowserContext,
  stack: WebStack,
  appUrl: string,
): Promise<{ page: Page; cookie: Cookie }> {
  const page = await context.newPage()
  await page.goto(appUrl)
  await waitForAppState(page, 'logged_out')
  const start = await page.evaluate(
    `fetch(${JSON.stringify(`${WEB_API_BASE}/login/start`)}, { method: 'POST', body: '{}', ` +
      "headers: { 'X-Codex-Broker': '1', 'Content-Type': 'application/json' } }).then((r) => r.json())",
  )
  const { userCode } = start as { userCode?: unknown }
  if (typeof userCode !== 'string') throw new Error(`no user code: ${JSON.stringify(start)}`)
  stack.sim.control.approveDevice({ userCode, email: VICTIM_EMAIL })
  const status = await statusFromPage(page)
  if (status.state !== 'logged_in') throw new Error(`not signed in: ${JSON.stringify(status)}`)
  await page.reload()
  await page.getByText(VICTIM_EMAIL).waitFor({ timeout: 10_000 })
  return { page, cookie: await sessionCookie(context, appUrl) }
}

/**
 * What the app's own page gets from its API, through the browser (same origin, with the static header): the
 * status of `GET /status` and its `state`.
 */
export async function statusFromPage(page: Page): Promise<{ status: number; state: string }> {
  const answer = await page.evaluate(
    `fetch(${JSON.stringify(`${WEB_API_BASE}/status`)}, { headers: { 'X-Codex-Broker': '1' } })` +
      '.then(async (r) => ({ status: r.status, body: await r.json() }))',
  )
  const { status, body } = answer as { status: number; body: { state?: unknown } }
  return { status, state: typeof body.state === 'string' ? body.state : '(no state)' }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
