/**
 * XO-MATRIX against the web surface (SECURITY.md §A) in real Chromium. The victim's browser context is signed in
 * through the app's own page and its sign-in popup, as a person would (and once more, through the page's own API
 * calls, under the app's other loopback name `localhost`), so it holds live, signed-in `__Host-Http-` session
 * cookies for the web server; the attacker's pages then run in that same context.
 *
 * From O1 (cross-site `attacker.test`), O2 (same-site other port, `127.0.0.1` and `localhost`, where the
 * SameSite=Strict cookie does travel) and O3 (opaque `null`: a CSP-sandboxed page and a sandboxed `srcdoc`
 * iframe), 15 techniques (T1–T13; T5 also with the session id "leaked" to the page as a bearer; T7 as `<img>` and
 * `<script>`; every fetch also asks for `X-Codex-Broker: 1` and JSON, and every POST carries a body its route
 * would accept) hit the 5 API routes: 370 cells. Every cell must leave both sessions signed in (the server says so
 * to Node), start no device sign-in, send no run upstream, sign nobody in or out, keep the browser's cookies
 * unchanged, and let the page read nothing; every API answer the attack's pages received is a 403.
 *
 * Positive controls, so a harness that sends nothing or a server that refuses everything cannot pass: the same
 * techniques reach a recorder (each marked as a browser request); from O2 the session cookie demonstrably rode
 * along (so the server's CSRF gate, not SameSite, refused); the read detector reports reads from a
 * CORS-permissive recorder and from its own origin, and the same script run from the app's own origin does read,
 * run, sign out and start a sign-in, so each oracle used here can fire (both in web-xo-rebind.test.ts); and the
 * app's own pages still get `logged_in` from the API after every attack.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WEB_API_BASE } from '../../src/cli/web-server.js'
import { launchChromium } from '../support/browser.js'
import { cellTag, startXoServer, type Technique, type XoServer } from '../proxy/xo-pages.js'
import {
  VICTIM_EMAIL,
  WEB_ROUTES,
  serverStatus,
  sideEffectCounts,
  signInThroughApi,
  signInThroughPage,
  sleep,
  startWebStack,
  statusFromPage,
  type SideEffectCounts,
  type WebStack,
} from './web-fixture.js'
import {
  attackFrom,
  cellCount,
  cellsOf,
  label,
  techniques,
  waitForHits,
  webTarget,
} from './web-xo-harness.js'

const TEST_TIMEOUT = 60_000

interface Origin {
  id: string
  name: string
  /** Host of the attack page (on the attacker server's port). */
  pageHost: string
  /** Host the page uses for the web server and the recorder. */
  targetHost: string
  page: '/attack.html' | '/attack-null.html'
  sandboxed: boolean
  skip: Technique[]
  /** The SameSite=Strict cookie travels with some attacks (same-site origins). */
  cookieTravels: boolean
}

const ORIGINS: Origin[] = [
  {
    id: 'O1',
    name: 'O1 cross-site attacker.test',
    pageHost: 'attacker.test',
    targetHost: '127.0.0.1',
    page: '/attack.html',
    sandboxed: false,
    skip: [],
    cookieTravels: false,
  },
  {
    id: 'O2ip',
    name: 'O2 same-site 127.0.0.1',
    pageHost: '127.0.0.1',
    targetHost: '127.0.0.1',
    page: '/attack.html',
    sandboxed: false,
    skip: [],
    cookieTravels: true,
  },
  {
    id: 'O2lh',
    name: 'O2 same-site localhost',
    pageHost: 'localhost',
    targetHost: 'localhost',
    page: '/attack.html',
    sandboxed: false,
    skip: [],
    cookieTravels: true,
  },
  {
    id: 'O3',
    name: 'O3 opaque null (CSP-sandboxed page)',
    pageHost: 'attacker.test',
    targetHost: '127.0.0.1',
    page: '/attack-null.html',
    sandboxed: false,
    skip: [],
    cookieTravels: false,
  },
  {
    // As in test/proxy/xo-browser.test.ts: window.open from a sandboxed iframe can crash Chromium 156's renderer,
    // so T9 runs from the CSP-sandboxed page above.
    id: 'O3if',
    name: 'O3 opaque null (sandboxed srcdoc iframe)',
    pageHost: 'attacker.test',
    targetHost: '127.0.0.1',
    page: '/attack.html',
    sandboxed: true,
    skip: ['T9 window.open'],
    cookieTravels: false,
  },
]

/** Everything the matrix shares: the servers, and the victim's signed-in context with its app pages. */
interface Victim {
  browser: Browser
  attacker: XoServer
  recorder: XoServer
  stack: WebStack
  context: BrowserContext
  /** The app's pages the victim signed in on, by host. */
  apps: Record<AppHost, Page>
  /** The signed-in session cookies' values, by host. */
  cookies: Record<AppHost, string>
}

type AppHost = '127.0.0.1' | 'localhost'

let victim: Victim | undefined
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
  const context = await browser.newContext()
  // Signed in under both loopback names of the app (a victim who opened it as 127.0.0.1 and as localhost), so
  // each O2 origin is same-site with a live session: cookies ignore ports. (Copying the cookie over instead does
  // not work: context.addCookies refuses this `__Host-Http-` cookie with "Invalid cookie fields".)
  const ip = await signInThroughPage(context, stack)
  const local = await signInThroughApi(context, stack, `http://localhost:${String(stack.web.port)}`)
  victim = {
    browser,
    attacker,
    recorder,
    stack,
    context,
    apps: { '127.0.0.1': ip.page, localhost: local.page },
    cookies: { '127.0.0.1': ip.cookie.value, localhost: local.cookie.value },
  }
}, 40_000)

afterAll(async () => {
  await Promise.all(closers.map((close) => close()))
})

function ready(): Victim {
  if (victim === undefined) throw new Error('the victim context was not set up')
  return victim
}

/**
 * The victim is unharmed: no sign-in started or finished, no run upstream, no revocation; the server still has
 * both sessions signed in as the victim; the browser's cookies did not change; and the app's own pages (both
 * names) still get `logged_in` from the API through the browser.
 */
async function expectVictimUnharmed(
  v: Victim,
  before: SideEffectCounts,
  cookiesBefore: string,
): Promise<void> {
  // Late beacons and keepalive fetches would land within this grace period.
  await sleep(300)
  expect(sideEffectCounts(v.stack.sim), 'sign-ins, runs and revocations since the attack').toEqual(
    before,
  )
  for (const [host, cookie] of Object.entries(v.cookies)) {
    expect(
      await serverStatus(v.stack.web, cookie),
      `the server view of the ${host} session`,
    ).toEqual({ httpStatus: 200, state: 'logged_in', email: VICTIM_EMAIL })
  }
  expect(JSON.stringify(await v.context.cookies()), 'the browser cookies').toBe(cookiesBefore)
  for (const app of Object.values(v.apps)) {
    expect(await statusFromPage(app), `the app at ${app.url()} calls its API`).toEqual({
      status: 200,
      state: 'logged_in',
    })
  }
}

describe('XO-MATRIX: Chromium pages attack the web routes of a signed-in victim', () => {
  for (const origin of ORIGINS) {
    it(
      `${origin.name}: ${String(cellCount(origin.skip))} cells, 0 side effects, nothing readable, every API answer 403; every technique reaches the recorder`,
      async () => {
        const v = ready()
        const before = sideEffectCounts(v.stack.sim)
        const cookiesBefore = JSON.stringify(await v.context.cookies())
        const configs = [
          webTarget('web', origin.id, origin.targetHost, v.stack.web.port, {
            tag: false,
            skip: origin.skip,
            // "Leaked" to the page: the session id sent as a bearer (T5) changes nothing either.
            token: v.cookies[origin.targetHost === 'localhost' ? 'localhost' : '127.0.0.1'],
          }),
          webTarget('recorder', origin.id, origin.targetHost, v.recorder.port, {
            tag: true,
            skip: origin.skip,
          }),
        ]
        const pageOrigin = `http://${origin.pageHost}:${String(v.attacker.port)}`
        const started = Date.now()
        const { report, seen } = await attackFrom(
          v.context,
          `${pageOrigin}${origin.page}`,
          configs,
          {
            sandboxed: origin.sandboxed,
            prefix: `http://${origin.targetHost}:${String(v.stack.web.port)}${WEB_API_BASE}/`,
          },
        )
        const elapsed = Date.now() - started
        const opaque = origin.sandboxed || origin.page === '/attack-null.html'
        expect(report.origin, 'the origin the attacks ran in').toBe(opaque ? 'null' : pageOrigin)

        // The web server: nothing readable, and every answer the browser saw was a 403.
        const webCells = cellsOf(expect, report, 'web', origin.skip)
        const read = webCells.filter((cell) => cell.read).map((cell) => label(origin.name, cell))
        expect(read, 'cells where attacker JS read something from the web server').toEqual([])
        expect(seen.length, 'API answers the browser received').toBeGreaterThan(0)
        expect(
          seen.filter((response) => response.status !== 403).map((response) => response.url),
          'API answers other than 403',
        ).toEqual([])
        const withCookie = seen.filter((response) => response.cookie).length
        if (origin.cookieTravels) {
          // Control: same-site, so SameSite=Strict let the cookie through; the CSRF gate is what refused.
          expect(withCookie, 'API requests that carried the session cookie').toBeGreaterThan(0)
        }

        // The recorder (no CORS): every technique arrived, marked as a browser request, unreadable.
        const recorderCells = cellsOf(expect, report, 'recorder', origin.skip)
        const tags = WEB_ROUTES.flatMap((endpoint) =>
          techniques(origin.skip).map((technique) => cellTag(origin.id, endpoint, technique)),
        )
        const missing = await waitForHits(v.recorder, tags)
        expect(missing, `${origin.name}: techniques that never reached the recorder`).toEqual([])
        const unmarked = v.recorder.hits
          .filter((hit) => tags.includes(hit.cell) && !hit.browserMarked)
          .map((hit) => `${hit.method} ${hit.cell}`)
        expect(unmarked, 'recorder hits without Origin or Sec-Fetch-*').toEqual([])
        expect(
          recorderCells.filter((cell) => cell.read).map((cell) => label(origin.name, cell)),
          'cells that read a non-CORS server',
        ).toEqual([])

        await expectVictimUnharmed(v, before, cookiesBefore)
        console.log(
          `XO web ${origin.name}: ${String(webCells.length)} cells, ${String(seen.length)} API answers ` +
            `(all 403, ${String(withCookie)} carrying the session cookie), 0 side effects, ${String(elapsed)} ms`,
        )
      },
      TEST_TIMEOUT,
    )
  }
})
