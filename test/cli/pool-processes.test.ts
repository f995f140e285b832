/**
 * Two `codex-broker proxy` processes on one home share the pool's health through `quota.json`: a 429 that
 * process A meets cools the account for process B too, which never saw it. Built CLI (`npx tsdown` first), one
 * simulator, a home with two accounts (FileCredentialStore), both proxies serving all accounts with `--strategy`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_POOL_CACHE_MS, QUOTA_FILE_NAME } from '../../src/accounts/index.js'
import { Secret } from '../../src/lib/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { FileCredentialStore } from '../../src/store/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const RESPONSES_ROUTE = '/backend-api/codex/responses'
const homes: string[] = []
const children: ChildProcessWithoutNullStreams[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

interface RunningProxy {
  child: ChildProcessWithoutNullStreams
  url: string
  token: string
  stderr: () => string
}

async function startProxyProcess(
  home: string,
  info: string,
  args: string[],
): Promise<RunningProxy> {
  const child = spawn(
    process.execPath,
    [cli, 'proxy', '--home', home, '--server-info', info, ...args],
    { stdio: 'pipe' },
  )
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end()
  const deadline = Date.now() + 10_000
  for (;;) {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout)
    if (match?.[1] !== undefined) {
      const written = JSON.parse(await readFile(info, 'utf8')) as { auth_token: string }
      return { child, url: match[1], token: written.auth_token, stderr: () => stderr }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the proxy did not start; stdout ${stdout} stderr ${stderr}`)
    }
    await sleep(25)
  }
}

async function post(proxy: RunningProxy): Promise<{ status: number; text: string }> {
  const answer = await request(`${proxy.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${proxy.token}` },
    body: JSON.stringify({
      model: 'gpt-5.4',
      input: [{ role: 'user', content: 'hello' }],
      stream: true,
    }),
    signal: AbortSignal.timeout(15_000),
  })
  return { status: answer.statusCode, text: await answer.body.text() }
}

describe('two proxy processes sharing one home', () => {
  it(
    'a cooldown process A learns holds in process B, and quota.json shows it',
    { timeout: 20_000 },
    async () => {
      const sim = await useSimulator()
      const home = await mkdtemp(join(tmpdir(), 'cb-pool-processes-'))
      homes.push(home)
      const store = new FileCredentialStore({ home })
      const x = await signIn(sim, { email: 'x@example.com' })
      const y = await signIn(sim, { email: 'y@example.com' })
      for (const account of [x, y]) {
        await store.put(
          accountFromSignIn(
            {
              idToken: Secret.from(account.idToken),
              accessToken: Secret.from(account.accessToken),
              refreshToken: Secret.from(account.refreshToken),
              expiresIn: null,
            },
            { now: Date.now() },
          ),
        )
      }
      const args = [
        '--issuer',
        sim.issuer,
        '--backend-url',
        sim.backendBase,
        '--strategy',
        'sticky',
      ]
      const [a, b] = await Promise.all([
        startProxyProcess(home, join(home, 'a.json'), args),
        startProxyProcess(home, join(home, 'b.json'), args),
      ])
      const answered = () => {
        const counts = sim.control.counters().responsesByAccount
        return [counts[x.accountId] ?? 0, counts[y.accountId] ?? 0]
      }
      const calls = () => sim.control.counters().requests[RESPONSES_ROUTE] ?? 0

      // Positive control: both processes start on X (sticky, first account).
      expect((await post(a)).status).toBe(200)
      expect((await post(b)).status).toBe(200)
      expect(answered()).toEqual([2, 0])

      // X reaches 100 %: A meets the 429 and fails over to Y without an error.
      const resetsInSeconds = 3_600
      sim.control.setQuota({ accountId: x.accountId, primaryUsedPercent: 100, resetsInSeconds })
      expect((await post(a)).status).toBe(200)
      expect(answered()).toEqual([2, 1])
      expect(calls()).toBe(4)

      // quota.json (no secrets, 0600) holds X's cooldown until the reset the 429 gave.
      const path = join(home, QUOTA_FILE_NAME)
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      const file = await readFile(path, 'utf8')
      const xRecord = (
        JSON.parse(file) as {
          accounts: Record<string, { cooldownUntil: number | null; cooldownReason: string | null }>
        }
      ).accounts[x.accountId]
      expect(xRecord?.cooldownReason).toBe('usage_limit')
      expect(xRecord?.cooldownUntil).toBeGreaterThan(Date.now() + (resetsInSeconds - 60) * 1000)
      for (const secret of sim.control.issued()) expect(file).not.toContain(secret)

      // The simulator would answer X again: only the shared cooldown keeps B away from it. B never saw the 429
      // (its last pick was X); past its state cache it must still not send to X.
      sim.control.setQuota({ accountId: x.accountId, primaryUsedPercent: 0 })
      await sleep(DEFAULT_POOL_CACHE_MS + 150)
      for (let i = 0; i < 5; i++) expect((await post(b)).status).toBe(200)
      expect(answered()).toEqual([2, 6])
      // Not one request went to X: no 429 and no answer from it.
      expect(calls()).toBe(9)
      expect(a.stderr()).not.toContain(a.token)
      expect(b.stderr()).not.toContain(b.token)
    },
  )
})
