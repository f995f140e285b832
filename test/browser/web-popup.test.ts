/**
 * The popup sign-in of the web page in real Chromium (SECURITY.md §F PU-01…PU-06). The page's `<CodexAuth>` opens
 * a blank window inside the click, severs its opener, sends it to the issuer's device page, and learns the outcome
 * from `GET /status` alone: no `postMessage` in either direction, so no window can sign the user in or out by
 * posting one.
 *
 * - PU-01/PU-04: `window.postMessage` is wrapped and every `message` event recorded in every document of the
 *   context (init script); a whole sign-in produces 0 calls and 0 messages, hence no token in any message. Control:
 *   a probe posted in the popup and in the app page is recorded.
 * - PU-06: the app page carries `Cross-Origin-Opener-Policy: same-origin-allow-popups`; the popup opens and the
 *   app navigates it to the device page, yet inside it `window.opener` is null. An attacker page that opens the
 *   app loses its handle at once (COOP), while its handle to a page without COOP stays live.
 * - PU-02/PU-03: a cross-site window and a same-origin window, both holding a live handle to the app, post
 *   `{type: 'login-complete'}` and similar (targeted `*` and at the app's origin), once while signed out and once
 *   while a sign-in is pending. The messages arrive (recorded in the app page) and change nothing: the state, the
 *   page's API calls, the server's view and the simulator's counts stay as they were.
 * - PU-05: the person closes the popup before approving; the app still matches the server (`pending`); the code
 *   is then approved elsewhere and the app reaches `logged_in` from its own polls, matching the server again.
 * - The app's promise to close the sign-in window when the sign-in ends ("closed when the sign-in ends",
 *   src/react/sign-in-popup.ts) is checked in a real browser too.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../support/browser.js'
import { startXoServer, type XoServer } from '../proxy/xo-pages.js'
import {
  VICTIM_EMAIL,
  appState,
  serverStatus,
  sessionCookie,
  sideEffectCounts,
  signInThroughPage,
  sleep,
  startWebStack,
  statusFromPage,
  waitForAppState,
  type WebStack,
} from './web-fixture.js'

const TEST_TIMEOUT = 60_000

let browser: Browser | undefined
let attacker: XoServer | undefined
let stack: WebStack | undefined

beforeAll(async () => {
  ;[browser, attacker, stack] = await Promise.all([
    launchChromium(),
    startXoServer(),
    startWebStack(),
  ])
})

afterAll(async () => {
  await Promise.all([browser?.close(), attacker?.close(), stack?.close()])
})

function ready(): { browser: Browser; attacker: XoServer; stack: WebStack } {
  if (browser === undefined || attacker === undefined || stack === undefined) {
    throw new Error('the browser or the servers did not start')
  }
  return { browser, attacker, stack }
}

/** One `postMessage` call (`send`) or one `message` event (`receive`) in some document of the context. */
interface MessageRecord {
  kind: 'send' | 'receive'
  /** The document it happened in. */
  href: string
  /** `send`: the target origin asked for. */
  targetOrigin: string | null
  /** `receive`: the sender's origin. */
  origin: string | null
  /** The message, as JSON. */
  data: string
}

/**
 * Records, in every document of the context from its first script on, each call of its `window.postMessage` and
 * each `message` event it receives (capture phase, before any page listener).
 */
const MESSAGE_RECORDER = String.raw`(() => {
  const show = (value) => {
    try { return JSON.stringify(value) ?? String(value) } catch { return String(value) }
  }
  const record = (entry) => {
    try { void window.__xoMessage({ href: location.href, targetOrigin: null, origin: null, ...entry }) } catch {}
  }
  const original = window.postMessage
  window.postMessage = function (message, options) {
    const target = typeof options === 'object' && options !== null ? options.targetOrigin : options
    record({ kind: 'send', targetOrigin: String(target), data: show(message) })
    return original.apply(this, arguments)
  }
  window.addEventListener('message', (event) => {
    record({ kind: 'receive', origin: event.origin, data: show(event.data) })
  }, true)
})()`

function toRecord(value: unknown): MessageRecord {
  const entry = value as Partial<MessageRecord> | null
  if (
    (entry?.kind !== 'send' && entry?.kind !== 'receive') ||
    typeof entry.href !== 'string' ||
    typeof entry.data !== 'string'
  ) {
    throw new Error(`malformed message record: ${JSON.stringify(value)}`)
  }
  return {
    kind: entry.kind,
    href: entry.href,
    targetOrigin: typeof entry.targetOrigin === 'string' ? entry.targetOrigin : null,
    origin: typeof entry.origin === 'string' ? entry.origin : null,
    data: entry.data,
  }
}

/** Installs {@link MESSAGE_RECORDER} in `context`; answers the live list of records. */
async function recordMessages(context: BrowserContext): Promise<MessageRecord[]> {
  const records: MessageRecord[] = []
  await context.exposeBinding('__xoMessage', (_source, value: unknown) => {
    records.push(toRecord(value))
  })
  await context.addInitScript(MESSAGE_RECORDER)
  return records
}

/** What a forged "sign-in finished" (or "signed out") message might look like to a careless client. */
const FORGED_MESSAGES: unknown[] = [
  { type: 'login-complete' },
  { type: 'login-complete', account: { email: 'evil@example.com', plan: 'pro' } },
  { type: 'codex-broker:login-complete', state: 'logged_in' },
  { type: 'login', status: 'success', loggedIn: true },
  { state: 'logged_in', account: { email: 'evil@example.com' } },
  { type: 'logout' },
  'login-complete',
]

/** Posts every forged message from `sender` to its opener, once with `*` and once at `appOrigin`. */
async function forge(sender: Page, appOrigin: string): Promise<void> {
  await sender.evaluate(
    `${JSON.stringify(FORGED_MESSAGES)}.forEach((message) => {` +
      ` window.opener.postMessage(message, '*');` +
      ` window.opener.postMessage(message, ${JSON.stringify(appOrigin)}) })`,
  )
}

/** Opens `url` from `page` (as the app's own script would) and answers the new window once loaded. */
async function openFrom(page: Page, url: string, name: string): Promise<Page> {
  const [opened] = await Promise.all([
    page.waitForEvent('popup'),
    page.evaluate(`void window.open(${JSON.stringify(url)}, ${JSON.stringify(name)})`),
  ])
  await opened.waitForLoadState()
  return opened
}

describe('PU: the popup sign-in in Chromium', () => {
  it(
    'PU-01, PU-04, PU-06: a whole sign-in posts and receives 0 messages; COOP same-origin-allow-popups; the app navigates the popup, whose opener is null',
    async () => {
      const { browser: chromium, stack: s } = ready()
      const context = await chromium.newContext()
      try {
        const records = await recordMessages(context)
        const inPopup: { url: string; openerIsNull: unknown } = { url: '', openerIsNull: null }
        const signedIn = await signInThroughPage(context, s, {
          beforeApprove: async ({ popup }) => {
            inPopup.url = popup.url()
            inPopup.openerIsNull = await popup.evaluate('window.opener === null')
            // Control: the recorder works in the popup (sender and receiver side).
            await popup.evaluate("window.postMessage('probe-popup', '*')")
          },
        })
        // Control: and in the app page.
        await signedIn.page.evaluate("window.postMessage('probe-app', location.origin)")
        await sleep(200)

        const probes = records.filter((record) => record.data.includes('probe-'))
        expect(
          probes.map((record) => `${record.kind} ${record.data} in ${new URL(record.href).origin}`),
        ).toEqual([
          `send "probe-popup" in ${s.sim.issuer}`,
          `receive "probe-popup" in ${s.sim.issuer}`,
          `send "probe-app" in ${s.web.url}`,
          `receive "probe-app" in ${s.web.url}`,
        ])
        // PU-01: no postMessage call at all (so none with '*'), and nothing received, in the app or the popup.
        expect(
          records.filter((record) => !record.data.includes('probe-')),
          'postMessage calls and message events during the sign-in',
        ).toEqual([])
        // PU-04: no message carries a token (control: the scanned text holds the probes).
        const scanned = JSON.stringify(records)
        expect(scanned).toContain('probe-app')
        const issued = s.sim.control.issued()
        expect(issued.length).toBeGreaterThan(3)
        for (const secret of issued) expect(scanned).not.toContain(secret)

        // PU-06: COOP on the app; the app opened the popup and navigated it; the popup has no opener.
        expect(signedIn.pageHeaders['cross-origin-opener-policy']).toBe('same-origin-allow-popups')
        expect(inPopup.url, 'where the app sent the popup').toBe(`${s.sim.issuer}/codex/device`)
        expect(inPopup.openerIsNull, 'window.opener === null inside the popup').toBe(true)
        expect(await appState(signedIn.page)).toBe('logged_in')
        console.log(
          `PU-01/04/06 web: 0 postMessage calls and 0 message events during a sign-in ` +
            `(${String(probes.length)} probe records), popup opener null, COOP same-origin-allow-popups`,
        )
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )

  it(
    'PU-06: an attacker page that opens the app loses its handle (COOP), while its handle to a page without COOP stays live',
    async () => {
      const { browser: chromium, attacker: evil, stack: s } = ready()
      const context = await chromium.newContext()
      try {
        const page = await context.newPage()
        await page.goto(`http://attacker.test:${String(evil.port)}/attack.html`)
        const handles = await page.evaluate(
          `(async () => {
            const app = window.open(${JSON.stringify(`${s.web.url}/`)}, 'app')
            const plain = window.open(${JSON.stringify(`http://127.0.0.1:${String(evil.port)}/attack.html`)}, 'plain')
            const deadline = Date.now() + 5000
            while (Date.now() < deadline && !app.closed) await new Promise((r) => setTimeout(r, 50))
            await new Promise((r) => setTimeout(r, 300))
            let navigated = 'no'
            try { app.location.href = 'about:blank#evil'; navigated = 'attempted' } catch (error) { navigated = error.name }
            return { appClosed: app.closed, plainClosed: plain.closed, navigated }
          })()`,
        )
        expect(handles).toMatchObject({ appClosed: true, plainClosed: false })
        // The app did open, on its own, with no opener to reach back to, and untouched.
        const app = context.pages().find((opened) => opened.url().startsWith(s.web.url))
        if (app === undefined) throw new Error('the app window did not open')
        await app.getByRole('button', { name: /sign in/i }).waitFor({ timeout: 10_000 })
        expect(app.url()).toBe(`${s.web.url}/`)
        expect(await app.evaluate('window.opener === null')).toBe(true)
        console.log(`PU-06 web: attacker handle to the app ${JSON.stringify(handles)}`)
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )

  it(
    'PU-02, PU-03: forged login-complete messages from a cross-site and a same-origin window are delivered and change nothing, signed out or pending',
    async () => {
      const { browser: chromium, attacker: evil, stack: s } = ready()
      const context = await chromium.newContext()
      try {
        const records = await recordMessages(context)
        const page = await context.newPage()
        await page.goto(s.web.url)
        await waitForAppState(page, 'logged_out')
        const appOrigin = s.web.url
        const cookie = await sessionCookie(context, s.web.url)
        const api: string[] = []
        page.on('request', (request) => {
          const url = new URL(request.url())
          if (url.pathname.startsWith('/api/codex/'))
            api.push(`${request.method()} ${url.pathname}`)
        })
        // The only way to get a handle to the app (the popup's opener is severed and COOP cuts an opener that
        // opens the app): the app opened them. A cross-site page, and another window of the app's own origin.
        const attackerOrigin = `http://attacker.test:${String(evil.port)}`
        const crossSite = await openFrom(page, `${attackerOrigin}/attack.html`, 'evil')
        const sameOrigin = await openFrom(page, `${appOrigin}/app.css`, 'twin')
        expect(await crossSite.evaluate('window.opener !== null')).toBe(true)
        const received = (origin: string): number =>
          records.filter(
            (record) =>
              record.kind === 'receive' &&
              record.href === `${appOrigin}/` &&
              record.origin === origin,
          ).length
        const before = sideEffectCounts(s.sim)

        // Signed out.
        api.length = 0
        await forge(crossSite, appOrigin)
        await forge(sameOrigin, appOrigin)
        await sleep(1_500)
        expect(received(attackerOrigin), 'cross-site messages delivered to the app').toBe(
          FORGED_MESSAGES.length * 2,
        )
        expect(received(appOrigin), 'same-origin messages delivered to the app').toBe(
          FORGED_MESSAGES.length * 2,
        )
        expect(await appState(page)).toBe('logged_out')
        expect(await page.getByRole('button', { name: /sign in/i }).isVisible()).toBe(true)
        expect(api, 'API calls the app made after the messages').toEqual([])
        expect(await serverStatus(s.web, cookie.value)).toMatchObject({ state: 'logged_out' })
        expect(sideEffectCounts(s.sim)).toEqual(before)

        // Control: the app does react to the person: a click starts a sign-in.
        await Promise.all([
          page.waitForEvent('popup'),
          page.getByRole('button', { name: /sign in/i }).click(),
        ])
        await waitForAppState(page, 'pending')
        expect(sideEffectCounts(s.sim).usercode).toBe(before.usercode + 1)

        // Pending: the forged messages again; only the app's own polls follow, and the sign-in stays pending.
        api.length = 0
        await forge(crossSite, appOrigin)
        await forge(sameOrigin, appOrigin)
        await sleep(2_500)
        expect(received(attackerOrigin)).toBe(FORGED_MESSAGES.length * 4)
        expect(received(appOrigin)).toBe(FORGED_MESSAGES.length * 4)
        expect(await appState(page)).toBe('pending')
        expect(
          api.filter((call) => call !== 'GET /api/codex/status'),
          'API calls other than the polls',
        ).toEqual([])
        expect(await serverStatus(s.web, cookie.value)).toMatchObject({ state: 'pending' })
        expect(sideEffectCounts(s.sim).tokenCalls, 'tokens issued').toBe(before.tokenCalls)
        console.log(
          `PU-02/03 web: ${String(FORGED_MESSAGES.length * 8)} forged messages delivered, 0 state changes ` +
            `(logged_out, then pending)`,
        )
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )

  it(
    "PU-05: after the person closes the popup the app's state matches the server (pending), and again once the code is approved elsewhere (logged_in)",
    async () => {
      const { browser: chromium, stack: s } = ready()
      const context = await chromium.newContext()
      try {
        const page = await context.newPage()
        await page.goto(s.web.url)
        const signIn = page.getByRole('button', { name: /sign in/i })
        await signIn.waitFor({ timeout: 10_000 })
        const [popup] = await Promise.all([page.waitForEvent('popup'), signIn.click()])
        await popup.waitForURL(`${s.sim.issuer}/codex/device`, { timeout: 10_000 })
        const code = await page.getByTestId('codex-auth-user-code').innerText({ timeout: 10_000 })
        const pending = await sessionCookie(context, s.web.url)
        await popup.close()
        await sleep(300)
        expect(await appState(page), 'the app after the popup closed').toBe('pending')
        expect(await serverStatus(s.web, pending.value), 'the server').toMatchObject({
          state: 'pending',
        })

        // Approved on another device: the app's own polls of GET /status bring it to logged_in.
        s.sim.control.approveDevice({ userCode: code, email: VICTIM_EMAIL })
        await waitForAppState(page, 'logged_in', 15_000)
        await page.getByText(VICTIM_EMAIL).waitFor({ timeout: 5_000 })
        const signedIn = await sessionCookie(context, s.web.url)
        expect(signedIn.value, 'the session id changed at sign-in').not.toBe(pending.value)
        expect(await serverStatus(s.web, signedIn.value)).toEqual({
          httpStatus: 200,
          state: 'logged_in',
          email: VICTIM_EMAIL,
        })
        expect(await statusFromPage(page)).toEqual({ status: 200, state: 'logged_in' })
        expect((await serverStatus(s.web, pending.value)).state, 'the pre-login id').not.toBe(
          'logged_in',
        )
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )

  it(
    'the sign-in window stays open after sign-in (the severed opener forbids closing it) and is told to be closed',
    async () => {
      const { browser: chromium, stack: s } = ready()
      const context = await chromium.newContext()
      try {
        const { page, popup } = await signInThroughPage(context, s, { closePopup: false })
        expect(await appState(page)).toBe('logged_in')
        // The app tries to close it, and Chromium refuses: the app is no longer the window's opener.
        const closed = await popup.waitForEvent('close', { timeout: 2_000 }).then(
          () => true,
          () => false,
        )
        expect(closed).toBe(false)
        expect(await popup.evaluate('window.opener === null')).toBe(true)
        // The person is told to close it while the sign-in is pending (checked in the component tests too);
        // closing it by hand works and changes nothing for the app.
        await popup.close()
        expect(await appState(page)).toBe('logged_in')
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT,
  )
})
