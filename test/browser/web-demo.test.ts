/**
 * The web surface in a real browser (system Chromium via playwright-core): the page of `codex-broker web` against
 * the simulator. A person clicks "Sign in", the popup opens on the simulator's device page, they type the code the
 * page shows and approve, the page notices by itself, they ask something and watch the answer stream in. The
 * cookie the browser stored is the prefixed, Secure, HttpOnly one (BR-01b for Chromium on loopback http), no
 * token is ever visible to the page's JavaScript or storage, and a screenshot is kept as an artifact.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../support/browser.js'
import { startWebStack, VICTIM_EMAIL } from './web-fixture.js'

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts')

let browser: Browser
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser.close()
})

describe('the web demo page in Chromium', () => {
  it('signs in through the popup, streams an answer, and keeps every token out of the page', async () => {
    const stack = await startWebStack()
    const { sim, web } = stack
    sim.control.configure({ streamChunks: 6, streamDelayMs: 30 })
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(web.url)
      const signIn = page.getByRole('button', { name: /sign in/i })
      await signIn.waitFor({ timeout: 10_000 })
      const [popup] = await Promise.all([page.waitForEvent('popup'), signIn.click()])
      await popup.waitForURL(`${sim.issuer}/codex/device`, { timeout: 10_000 })
      const code = await page.getByTestId('codex-auth-user-code').innerText({ timeout: 10_000 })
      expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4,5}$/)
      await popup.fill('#user_code', code)
      await popup.selectOption('#email', VICTIM_EMAIL)
      await popup.getByRole('button', { name: 'Approve' }).click()
      await popup.getByText('Device approved').waitFor({ timeout: 10_000 })
      // The page learns of the approval from /status alone, then closes the popup.
      await page.getByText(VICTIM_EMAIL).waitFor({ timeout: 15_000 })
      await page.getByRole('textbox').fill('Say hello to the browser')
      await page.getByRole('button', { name: /send/i }).click()
      const answer = page.getByTestId('codex-auth-answer')
      await expect
        .poll(async () => (await answer.innerText()).length, { timeout: 15_000 })
        .toBeGreaterThan(10)
      mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: join(ARTIFACTS, 'web-demo.png'), fullPage: true })

      const cookies = await context.cookies(web.url)
      expect(cookies).toHaveLength(1)
      const [cookie] = cookies
      expect(cookie?.name).toBe('__Host-Http-codex-broker')
      expect(cookie?.secure).toBe(true)
      expect(cookie?.httpOnly).toBe(true)
      expect(cookie?.sameSite).toBe('Strict')
      expect(cookie?.path).toBe('/')
      // A string, so this Node-typed test file needs no DOM types.
      const visible = String(
        await page.evaluate(
          'JSON.stringify({ cookie: document.cookie, local: Object.entries(localStorage), ' +
            'session: Object.entries(sessionStorage), html: document.documentElement.outerHTML })',
        ),
      )
      expect(visible).not.toContain('codex-broker=')
      const issued = sim.control.issued()
      expect(issued.length).toBeGreaterThan(3)
      for (const secret of issued) expect(visible).not.toContain(secret)
      // Control: the page's own text is in what was scanned.
      expect(visible).toContain(VICTIM_EMAIL)
    } finally {
      await context.close()
      await stack.close()
    }
  }, 60_000)
})
