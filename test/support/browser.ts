/**
 * The real browser for cross-origin tests: the system Chromium driven by `playwright-core` (never a downloaded
 * build), headless, with `attacker.test` and `rebind.test` resolved to 127.0.0.1 by Chromium's own host resolver
 * rules, so a cross-site origin and a rebound name need neither DNS nor `/etc/hosts`. A missing Chromium is a
 * failure, not a skip: CI installs it (`.ci/run`).
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Names Chromium resolves to 127.0.0.1 (`MappedHostResolver` rules). */
export const MAPPED_HOSTS = ['attacker.test', 'rebind.test'] as const

/**
 * Launches headless Chromium. Playwright's `headless: true` (its default, set here explicitly) already adds
 * `--headless` and `--no-sandbox`, so neither is repeated in `args`.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is required at ${CHROMIUM_PATH} (apt-get install chromium; .ci/run installs it)`,
    )
  }
  const rules = MAPPED_HOSTS.map((host) => `MAP ${host} 127.0.0.1`).join(', ')
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 15_000,
    args: [
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
      `--host-resolver-rules=${rules}`,
    ],
  })
}
