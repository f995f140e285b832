/**
 * The official Codex CLI through CodexCliRunner against the simulator — the one test of the project that may be
 * skipped, because it needs the network to install `@openai/codex` (the issue allows exactly this case). It runs
 * when `CODEX_BROKER_REAL_CODEX` is set: to `1` it installs the pinned version into a temporary folder with
 * `npm install --prefix` (never into the project, as bench/lib/processes.mjs does) and finds it as the
 * `@openai/codex` package; to an absolute path it uses that `codex`. When the installation fails it is reported
 * as skipped with npm's reason.
 *
 * What it checks: the real CLI completes a turn with the lent credentials (one `codex/responses` request as the
 * account), the runner refreshed first and the rotated refresh token is in the store (the broker's next refresh
 * reuses nothing), the run's home is gone, and no issued token is in any event or log line.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TokenManager } from '../../src/tokens/index.js'
import { collect, setup } from './fixtures.js'

/** The version PROTOCOL.md §9 and the benchmarks were checked with. */
const PINNED_CODEX_VERSION = '0.169.0'
const REAL = process.env.CODEX_BROKER_REAL_CODEX ?? ''

async function installCodex(): Promise<{ dir: string } | { reason: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-broker-real-codex-'))
  const failure = await new Promise<string | null>((resolve) => {
    execFile(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        `@openai/codex@${PINNED_CODEX_VERSION}`,
        '--no-audit',
        '--no-fund',
      ],
      { timeout: 5 * 60 * 1000, encoding: 'utf8' },
      (error, _stdout, stderr) => {
        const last = stderr.trim().split('\n').pop() ?? ''
        resolve(error === null ? null : last === '' ? error.message : last)
      },
    )
  })
  if (failure === null) return { dir }
  await rm(dir, { recursive: true, force: true })
  return { reason: `npm install @openai/codex@${PINNED_CODEX_VERSION} failed: ${failure}` }
}

describe('CodexCliRunner with the official Codex CLI', () => {
  it.skipIf(REAL === '')(
    `@openai/codex@${PINNED_CODEX_VERSION} completes a turn with lent credentials against the simulator ` +
      '(runs only with CODEX_BROKER_REAL_CODEX=1, which installs it from npm, or =/path/to/codex)',
    async (context) => {
      let installed: string | null = null
      let located: { binary: string } | { packageFrom: string }
      if (isAbsolute(REAL)) {
        located = { binary: REAL }
      } else {
        const result = await installCodex()
        if ('reason' in result) {
          context.skip(result.reason)
          return
        }
        installed = result.dir
        located = { packageFrom: result.dir }
      }
      try {
        const t = await setup()
        const before = await t.store.get(t.alice.accountId)
        const lentBefore = before?.auth.kind === 'chatgpt' ? before.auth.refreshToken.reveal() : ''
        // A time limit of an hour makes the simulator's one-hour token too short: the runner refreshes first.
        const runner = t.runner(
          {
            ...located,
            searchPath: [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
            timeoutMs: 60 * 60 * 1000,
          },
          false,
        )
        const controller = new AbortController()
        const timer = setTimeout(() => {
          controller.abort()
        }, 120_000)
        const events = await collect(
          runner.run({
            accountId: t.alice.accountId,
            prompt: 'Say hello to the broker test',
            model: 'gpt-5.4',
            signal: controller.signal,
          }),
        )
        clearTimeout(timer)
        const text = events.map((event) => (event.type === 'text' ? event.delta : '')).join('')
        expect(events.at(-1)?.type, JSON.stringify(events.at(-1))).toBe('done')
        expect(text).toContain('Say hello to the broker test')
        const counters = t.sim.control.counters()
        expect(counters.responsesByAccount[t.alice.accountId]).toBeGreaterThanOrEqual(1)
        const request = t.sim.control.requests('/backend-api/codex/responses').at(-1)
        expect(request?.headers['chatgpt-account-id']).toBe(t.alice.accountId)

        // Refreshed first: the store holds the rotated refresh token, and the chain goes on without a reuse.
        const after = await t.store.get(t.alice.accountId)
        const saved = after?.auth.kind === 'chatgpt' ? after.auth.refreshToken.reveal() : ''
        expect(saved).not.toBe(lentBefore)
        const broker = new TokenManager({
          store: t.store,
          issuer: t.issuer,
          proactiveWindowMs: 2 * 60 * 60 * 1000,
        })
        await broker.getAccessToken(t.alice.accountId)
        expect(t.sim.control.counters().reuseEvents).toBe(0)

        expect(await readdir(t.tempDir)).toEqual([])
        const everything = JSON.stringify(events) + t.logLines.join('')
        expect(t.logLines.join('')).toContain('runner.end')
        const issued = t.sim.control.issued()
        expect(issued.length).toBeGreaterThan(4)
        for (const secret of issued) expect(everything).not.toContain(secret)
      } finally {
        if (installed !== null) await rm(installed, { recursive: true, force: true })
      }
    },
    10 * 60 * 1000,
  )
})
