/**
 * The XO harness of test/proxy/xo-pages.ts (attack page, techniques, recorder), pointed at the web surface: a
 * target config that asks every fetch for the handler's static header and JSON, a runner that loads an attack page
 * in a given browser context (the victim's, signed in) and records every API answer that page, its frames and
 * its popups received — with whether the session cookie rode along — and the cell bookkeeping that makes a
 * silently dropped cell a failure.
 */
import type { BrowserContext, Page, Response } from 'playwright-core'
import type { ExpectStatic } from 'vitest'
import {
  TECHNIQUES,
  parseReport,
  type AttackConfig,
  type AttackReport,
  type CellResult,
  type Endpoint,
  type Technique,
  type XoServer,
} from '../proxy/xo-pages.js'
import { SESSION_COOKIE, WEB_ROUTES, sleep } from './web-fixture.js'

/** What every fetch technique asks for on top of its own headers (`no-cors` drops both). */
export const BROKER_HEADERS: Readonly<Record<string, string>> = {
  'x-codex-broker': '1',
  'content-type': 'application/json',
}

/** The techniques whose request carries the static header when the browser lets it (CORS mode). */
export const HEADER_TECHNIQUES: ReadonlySet<Technique> = new Set<Technique>([
  'T5 fetch cors application/json',
  'T5 fetch cors + leaked token',
  'T6 fetch credentials:include + custom header',
])

/** A target for the attack page (the web server, a recorder, the page's own origin). */
export function webTarget(
  label: string,
  origin: string,
  host: string,
  port: number,
  options: {
    tag: boolean
    open?: boolean
    skip?: Technique[]
    token?: string
    endpoints?: readonly Endpoint[]
  },
): AttackConfig {
  return {
    label,
    origin,
    http: `http://${host}:${String(port)}`,
    ws: `ws://${host}:${String(port)}`,
    tag: options.tag,
    open: options.open ?? false,
    token: options.token ?? 'not-a-session',
    skip: options.skip ?? [],
    endpoints: [...(options.endpoints ?? WEB_ROUTES)],
    extraHeaders: { ...BROKER_HEADERS },
  }
}

/** A response the browser got, and whether its request carried the session cookie. */
export interface Seen {
  url: string
  status: number
  cookie: boolean
}

/** What an attack page reported, and the answers under the watched prefix its page received. */
export interface PageRun {
  report: AttackReport
  seen: Seen[]
}

/**
 * Loads the attack page at `pageUrl` in `context`, runs the configs there (or in its sandboxed `srcdoc` iframe),
 * and records every response under `prefix` that this page, its frames or its popups received.
 */
export async function attackFrom(
  context: BrowserContext,
  pageUrl: string,
  configs: AttackConfig[],
  options: { sandboxed: boolean; prefix: string },
): Promise<PageRun> {
  const page = await context.newPage()
  const pages = new Set<Page>([page])
  page.on('popup', (popup) => pages.add(popup))
  const seen: Promise<Seen>[] = []
  const listener = (response: Response): void => {
    const url = response.url()
    if (!url.startsWith(options.prefix)) return
    let from: Page
    try {
      from = response.frame().page()
    } catch {
      return
    }
    if (!pages.has(from)) return
    const sent = Promise.race([
      response.request().allHeaders(),
      sleep(2_000).then((): Record<string, string> => ({})),
    ])
    seen.push(
      sent.then((headers) => ({
        url,
        status: response.status(),
        cookie: (headers.cookie ?? '').includes(`${SESSION_COOKIE}=`),
      })),
    )
  }
  context.on('response', listener)
  try {
    const loaded = await page.goto(pageUrl)
    if (loaded?.status() !== 200) {
      throw new Error(`attack page ${pageUrl}: ${String(loaded?.status())}`)
    }
    const run = options.sandboxed ? '__attackSandboxed' : '__attack'
    await page.evaluate(`window.${run}(${JSON.stringify(configs)})`)
    const report = parseReport(await page.evaluate('window.__results'))
    return { report, seen: await Promise.all(seen) }
  } finally {
    context.off('response', listener)
    await Promise.all([...pages].map((opened) => opened.close()))
  }
}

export function label(origin: string, cell: CellResult): string {
  return `${origin} → ${cell.target} ${cell.endpoint} ${cell.technique}: ${cell.detail}`
}

export function techniques(skip: readonly Technique[]): Technique[] {
  return TECHNIQUES.filter((technique) => !skip.includes(technique))
}

export function cellCount(
  skip: readonly Technique[],
  endpoints: readonly Endpoint[] = WEB_ROUTES,
): number {
  return endpoints.length * techniques(skip).length
}

/** The cells of one target, checked to be exactly the expected ones (routes × techniques). */
export function cellsOf(
  expect: ExpectStatic,
  report: AttackReport,
  targetLabel: string,
  skip: readonly Technique[] = [],
  endpoints: readonly Endpoint[] = WEB_ROUTES,
): CellResult[] {
  const cells = report.results.filter((cell) => cell.target === targetLabel)
  const expected = endpoints
    .flatMap((endpoint) =>
      techniques(skip).map(
        (technique) => `${targetLabel} ${endpoint.method} ${endpoint.path} ${technique}`,
      ),
    )
    .sort()
  expect(
    cells.map((cell) => `${cell.target} ${cell.endpoint} ${cell.technique}`).sort(),
    `cells run against ${targetLabel}`,
  ).toEqual(expected)
  return cells
}

/** Waits (≤ 5 s) until every tag has reached the server; answers the tags still missing. */
export async function waitForHits(server: XoServer, tags: string[]): Promise<string[]> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const seen = new Set(server.hits.map((hit) => hit.cell))
    const missing = tags.filter((tag) => !seen.has(tag))
    if (missing.length === 0 || Date.now() > deadline) return missing
    await sleep(100)
  }
}
