/**
 * The demo's web step: starts the web handler with the React demo page against the simulator, checks it once the
 * way a browser would (a session, a device sign-in approved on the simulator, a streamed answer — all through the
 * handler's routes, no token ever in an answer), and prints the page's URL for a person to open: there they sign
 * in through the popup by approving the code on the simulator's own `/codex/device` page.
 */
import { randomBytes } from 'node:crypto'
import type { Simulator } from '../../sim/index.js'
import { CODEX_CLIENT_ID, DEFAULT_ORIGINATOR } from '../../oauth/index.js'
import { Secret } from '../../lib/index.js'
import { VERSION } from '../version.js'
import { startWebServer, WEB_API_BASE, type RunningWebServer } from '../web-server.js'

/** What the demo needs for its web step. */
export interface DemoWebOptions {
  readonly sim: Simulator
  /** The simulator account the check signs in as. */
  readonly email: string
  readonly say: (line?: string) => void
}

/**
 * Starts the page and the handler, checks them once, and prints how to use them.
 * @example
 * const web = await startDemoWeb({ sim, email: 'bob@example.com', say })
 */
export async function startDemoWeb(options: DemoWebOptions): Promise<RunningWebServer> {
  const { sim, say } = options
  const web = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    loginOrigins: [new URL(sim.issuer).origin],
    handler: {
      cookieSecret: Secret.from(randomBytes(32).toString('base64url')),
      upstream: {
        kind: 'chatgpt',
        issuer: sim.issuer,
        clientId: CODEX_CLIENT_ID,
        backendBase: sim.backendBase,
        identity: { originator: DEFAULT_ORIGINATOR, version: VERSION },
      },
    },
  })
  try {
    const text = await checkOnce(web.url, options)
    say(`5. Web page and handler on ${web.url} (API at ${WEB_API_BASE})`)
    say(`   checked through the routes: device sign-in, then a streamed answer "${text}"`)
    say(`   open ${web.url} in a browser, click "Sign in with ChatGPT", and in the popup (the`)
    say(`   simulator's device page) approve the code shown on the page as ${options.email}`)
    return web
  } catch (error) {
    await web.close()
    throw error
  }
}

/** One sign-in and one run through the routes, as the page does them. */
async function checkOnce(base: string, options: DemoWebOptions): Promise<string> {
  let cookie = ''
  const call = async (path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(`${base}${WEB_API_BASE}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        'x-codex-broker': '1',
        'sec-fetch-site': 'same-origin',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(cookie === '' ? {} : { cookie }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const setCookie = response.headers.getSetCookie()[0]
    if (setCookie !== undefined) cookie = setCookie.split(';')[0] ?? ''
    if (!response.ok) throw new Error(`the web step's ${path} answered ${String(response.status)}`)
    return response
  }
  await call('/session', {})
  const { userCode } = (await (await call('/login/start', {})).json()) as { userCode: string }
  options.sim.control.approveDevice({ userCode, email: options.email })
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { state } = (await (await call('/status')).json()) as { state: string }
    if (state === 'logged_in') break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const run = await call('/run/stream', { prompt: 'hello from the demo page' })
  let text = ''
  for (const line of (await run.text()).split('\n')) {
    if (line === '') continue
    const event = JSON.parse(line) as { type: string; delta?: string }
    if (event.type === 'text') text += event.delta ?? ''
  }
  await call('/logout', {})
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
