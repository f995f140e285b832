/**
 * The rest of SECURITY.md §A and §F against the web surface in real Chromium, each in a browser context that is
 * signed in (through the app's own page, without its UI):
 *
 * - XO-REBIND: the web server's port under a foreign Host (`rebind.test`, which Chromium resolves to 127.0.0.1).
 *   The page, its assets, a missing path and every API route are 403; the attack script injected into that
 *   origin (CSP bypassed, so it runs at all) gets only the `host_not_allowed` refusal from every route, in every
 *   technique: 75 cells, 0 side effects. Control: the same port under its own name serves the page.
 * - BR-34: attacker pages (cross-site `attacker.test` and same-site `127.0.0.1:<other port>`) frame the app, API
 *   routes and error pages; every frame ends on Chromium's error page with the `frame-ancestors 'none'` refusal
 *   logged, while a frameable recorder page in the same attacker page loads.
 * - The read detector works: from O1 it reports reads from a CORS-permissive recorder (T5, T6, T7, T11, T12) and
 *   from the page's own origin (everything but sendBeacon).
 * - The oracles can fire: the attack script run from the app's own origin (same-origin, static header allowed)
 *   reads every route, sends a run upstream, signs the session out and starts a device sign-in — exactly what
 *   test/browser/web-xo.test.ts requires never to happen from another origin.
 */
import type { Browser, Cookie, Frame, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WEB_API_BASE } from '../../src/cli/web-server.js'
import { launchChromium } from '../support/browser.js'
import {
  ATTACK_SCRIPT,
  parseReport,
  startXoServer,
  type Endpoint,
  type Technique,
  type XoServer,
} from '../proxy/xo-pages.js'
import {
  VICTIM_EMAIL,
  WEB_ROUTES,
  serverStatus,
  sideEffectCounts,
  signInThroughApi,
  sleep,
  startWebStack,
  statusFromPage,
  type SideEffectCounts,
  type WebStack,
} from './web-fixture.js'
import { HEADER_TECHNIQUES, attackFrom, cellsOf, label, webTarget } from './web-xo-harness.js'

const TEST_TIMEOUT = 60_000

interface Servers {
  browser: Browser
  attacker: XoServer
  recorder: XoServer
  stack: WebStack
}

let servers: Servers | undefined
let closers: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  const [browser, attacker, recorder, stack] = await Promise.all([
    launchChromium(),
    startXoServer(),
    startXoServer(),
    startWebStack(),
  ])
  closers = [
    () => browser.close(),
    () => attacker.close(),
    () => recorder.close(),
    () => stack.close(),
  ]
  servers = { browser, attacker, recorder, stack }
})

afterAll(async () => {
  await Promise.all(closers.map((close) => close()))
})

function ready(): Servers {
  if (servers === undefined) throw new Error('the browser or the servers did not start')
  return servers
}

/**
 * Nothing happened to the signed-in session: no sign-in started or finished, no run, no revocation since
 * `before`; the server still has it signed in; the app's page still gets `logged_in` from its API.
 */
async function expectUnharmed(
  stack: WebStack,
  signedIn: { page: Page; cookie: Cookie },
  before: SideEffectCounts,
): Promise<void> {
  await sleep(300)
  expect(sideEffectCounts(stack.sim), 'sign-ins, runs and revocations since the attack').toEqual(
    before,
  )
  expect(await serverStatus(stack.web, signedIn.cookie.value), 'the server view').toEqual({
    httpStatus: 200,
    state: 'logged_in',
    email: VICTIM_EMAIL,
  })
  expect(await statusFromPage(signedIn.page), 'the app calls its API').toEqual({
    status: 200,
    state: 'logged_in',
  })
}

describe('XO-REBIND: the web server port under a foreign Host', () => {
  it(
    'the page, its assets and every route at rebind.test:<port> are 403; script injected there reads only refusals; 0 side effects',
    async () => {
      const v = ready()
      const port = String(v.stack.web.port)
      const base = `http://rebind.test:${port}`
      // The worst case: the attacker's script runs in the rebound origin anyway (CSP is bypassed to inject it),
      // same-origin with the port, in a browser that is signed in under the app's real name.
      const context = await v.browser.newContext({ bypassCSP: true })
      const statuses: { url: string; status: number }[] = []
      try {
        const signedIn = await signInThroughApi(context, v.stack, v.stack.web.url)
        const before = sideEffectCounts(v.stack.sim)
        context.on('response', (response) => {
          statuses.push({ url: response.url(), status: response.status() })
        })
        const page = await context.newPage()
        const pagePaths = ['/', '/app.js', '/app.css', '/missing']
        const paths = [...pagePaths, ...WEB_ROUTES.map((route) => route.path)]
        const navigations: string[] = []
        for (const path of paths) {
          const response = await page.goto(`${base}${path}`)
          const body = String(await page.evaluate('document.body.textContent')).trim()
          const code = /"code":"([a-z_]+)"/.exec(body)?.[1] ?? body
          navigations.push(`${path} ${String(response?.status())} ${code}`)
        }
        expect(navigations).toEqual(
          paths.map((path) =>
            pagePaths.includes(path)
              ? `${path} 403 This host is not allowed.`
              : `${path} 403 host_not_allowed`,
          ),
        )

        await page.goto(`${base}/`)
        await page.addScriptTag({ content: ATTACK_SCRIPT })
        const config = webTarget('web', 'REBIND', 'rebind.test', v.stack.web.port, { tag: false })
        await page.evaluate(`window.__attack(${JSON.stringify([config])})`)
        const report = parseReport(await page.evaluate('window.__results'))
        const cells = cellsOf(expect, report, 'web')
        const readable = cells.filter((cell) => cell.read)
        const leaks = readable
          .filter((cell) => !cell.detail.includes('"code":"host_not_allowed"'))
          .map((cell) => label('REBIND', cell))
        expect(leaks, 'cells that read anything but the host_not_allowed refusal').toEqual([])
        // Control: from inside the rebound origin the refusals themselves are readable (same-origin).
        expect(readable.length, 'cells that read the refusal').toBeGreaterThan(0)
        const fromWeb = statuses.filter((response) => response.url.startsWith(`${base}/`))
        expect(fromWeb.length).toBeGreaterThan(paths.length)
        expect(fromWeb.filter((response) => response.status !== 403)).toEqual([])

        // Control: the same port under its own name serves the page and its assets.
        for (const path of ['/', '/app.js', '/app.css']) {
          const own = await page.goto(`http://127.0.0.1:${port}${path}`)
          expect(own?.status(), `own name ${path}`).toBe(200)
        }
        await expectUnharmed(v.stack, signedIn, before)
        console.log(
          `XO-REBIND web: ${String(paths.length)} navigations and ${String(cells.length)} cells, all refused ` +
            `(${String(readable.length)} cells read only the refusal), 0 side effects`,
        )
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )
})

describe('BR-34: framing the app and its API from an attacker page', () => {
  it(
    "the app page, an API route and error pages never load in an attacker's frame (frame-ancestors 'none'); a frameable recorder page beside them does",
    async () => {
      const v = ready()
      const context = await v.browser.newContext()
      const signedIn = await signInThroughApi(context, v.stack, v.stack.web.url)
      const before = sideEffectCounts(v.stack.sim)
      const web = `http://127.0.0.1:${String(v.stack.web.port)}`
      const framed: Record<string, string> = {
        app: `${web}/`,
        status: `${web}${WEB_API_BASE}/status`,
        loginStart: `${web}${WEB_API_BASE}/login/start`,
        notFound: `${web}/missing`,
        apiNotFound: `${web}${WEB_API_BASE}/missing`,
      }
      const lines: string[] = []
      for (const attackerHost of ['attacker.test', '127.0.0.1']) {
        const page = await context.newPage()
        const violations: string[] = []
        page.on('console', (message) => {
          if (message.text().includes("frame-ancestors 'none'")) violations.push(message.text())
        })
        const headers = new Map<string, Record<string, string>>()
        page.on('response', (response) => {
          headers.set(response.url(), response.headers())
        })
        try {
          await page.goto(`http://${attackerHost}:${String(v.attacker.port)}/attack.html`)
          const control = `http://127.0.0.1:${String(v.recorder.port)}/frame?cell=BR34|${attackerHost}`
          const sources = { ...framed, control }
          await page.evaluate(
            `Promise.all(Object.entries(${JSON.stringify(sources)}).map(([name, src]) => ` +
              'new Promise((resolve) => { const frame = document.createElement("iframe"); ' +
              'frame.name = name; frame.onload = resolve; frame.src = src; document.body.appendChild(frame) })))',
          )
          // Each frame through its own <iframe> element: a blocked frame's error page may not keep its name.
          const frameNamed = async (name: string): Promise<Frame | undefined> =>
            (await (await page.$(`iframe[name="${name}"]`))?.contentFrame()) ?? undefined
          for (const [name, url] of Object.entries(framed)) {
            const frame = await frameNamed(name)
            expect(frame, `frame ${name}`).toBeDefined()
            if (frame === undefined) continue
            expect(frame.url(), `${name} frame on ${attackerHost}`).toBe(
              'chrome-error://chromewebdata/',
            )
            const inside = String(
              await frame.evaluate('String(document.getElementById("app")) + " " + origin'),
            )
            expect(inside, `${name} frame is not the app`).toBe('null null')
            expect(headers.get(url)?.['content-security-policy'], `${name} CSP`).toContain(
              "frame-ancestors 'none'",
            )
          }
          expect(violations, "Chromium's frame-ancestors refusals").toHaveLength(
            Object.keys(framed).length,
          )
          // Control: a page without frame-ancestors loads in the same attacker page.
          const recorded = await frameNamed('control')
          expect(recorded?.url(), 'the recorder frame').toBe(control)
          expect(await recorded?.evaluate('document.body.textContent')).toBe('recorded')
          lines.push(`${attackerHost}: ${String(violations.length)} frames blocked, control loaded`)
        } finally {
          await page.close()
        }
      }
      await expectUnharmed(v.stack, signedIn, before)
      await context.close()
      console.log(`BR-34 web: ${lines.join('; ')}`)
    },
    TEST_TIMEOUT,
  )
})

describe('controls: the read detector and every oracle can fire', () => {
  it(
    'O1 in a signed-in context reads a CORS-permissive recorder (T5, T6, T7, T11, T12) and its own origin (all but T10)',
    async () => {
      const v = ready()
      const context = await v.browser.newContext()
      await signInThroughApi(context, v.stack, v.stack.web.url)
      const configs = [
        webTarget('recorder-cors', 'C-cors', '127.0.0.1', v.recorder.port, {
          tag: true,
          open: true,
        }),
        webTarget('same-origin', 'C-self', 'attacker.test', v.attacker.port, {
          tag: true,
          open: true,
        }),
      ]
      const { report } = await attackFrom(
        context,
        `http://attacker.test:${String(v.attacker.port)}/attack.html`,
        configs,
        { sandboxed: false, prefix: 'http://unused.invalid/' },
      )
      const corsReadable = new Set<Technique>([
        'T5 fetch cors application/json',
        'T5 fetch cors + leaked token',
        'T6 fetch credentials:include + custom header',
        'T7 <img>',
        'T7 <script>',
        'T11 WebSocket',
        'T12 EventSource',
      ])
      const wrong = [
        ...cellsOf(expect, report, 'recorder-cors').filter(
          (cell) => cell.read !== corsReadable.has(cell.technique as Technique),
        ),
        ...cellsOf(expect, report, 'same-origin').filter(
          (cell) => cell.read !== (cell.technique !== 'T10 sendBeacon'),
        ),
      ].map((cell) => `${label('O1', cell)} (read: ${String(cell.read)})`)
      expect(wrong, 'cells whose read verdict differs from the expected one').toEqual([])
      await context.close()
    },
    TEST_TIMEOUT,
  )
  it(
    "the same attack script run from the app's own origin reads every route, runs upstream, signs out and starts a sign-in",
    async () => {
      const v = ready()
      const context = await v.browser.newContext()
      try {
        const { page, cookie } = await signInThroughApi(context, v.stack, v.stack.web.url)
        const before = sideEffectCounts(v.stack.sim)
        // The page's CSP does not apply to script the test evaluates; its fetches are same-origin.
        await page.evaluate(ATTACK_SCRIPT)
        const route = (path: string): Endpoint => {
          const found = WEB_ROUTES.find((candidate) => candidate.path === `${WEB_API_BASE}${path}`)
          if (found === undefined) throw new Error(`no route ${path}`)
          return found
        }
        // Signed in: status, a run, sign-out; then, anonymous again: a new session and a sign-in start.
        const endpoints = ['/status', '/run/stream', '/logout', '/session', '/login/start'].map(
          route,
        )
        const config = webTarget('self', 'C-app', '127.0.0.1', v.stack.web.port, {
          tag: false,
          endpoints,
        })
        await page.evaluate(`window.__attack(${JSON.stringify([config])})`)
        const report = parseReport(await page.evaluate('window.__results'))
        const cells = cellsOf(expect, report, 'self', [], endpoints)
        for (const endpoint of endpoints) {
          const name = `${endpoint.method} ${endpoint.path}`
          const sent = cells.filter(
            (cell) => cell.endpoint === name && HEADER_TECHNIQUES.has(cell.technique as Technique),
          )
          expect(
            sent.filter((cell) => !cell.read).map((cell) => label('app', cell)),
            `${name}: unread`,
          ).toEqual([])
          expect(
            sent.filter((cell) => cell.detail.startsWith('200 ')).length,
            `${name}: 200 answers (${sent.map((cell) => cell.detail).join(' | ')})`,
          ).toBeGreaterThan(0)
        }
        await sleep(300)
        const after = sideEffectCounts(v.stack.sim)
        expect(after.responses, 'runs sent upstream').toBeGreaterThan(before.responses)
        expect(after.usercode, 'device sign-ins started').toBeGreaterThan(before.usercode)
        const ended = await serverStatus(v.stack.web, cookie.value)
        expect(ended.state, 'the signed-in session after the logout cells').not.toBe('logged_in')
        console.log(
          `controls web: from the app's own origin ${String(cells.filter((cell) => cell.read).length)}/` +
            `${String(cells.length)} cells read; runs +${String(after.responses - before.responses)}, ` +
            `sign-ins started +${String(after.usercode - before.usercode)}, session ${ended.state} (${String(ended.httpStatus)})`,
        )
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )
})
