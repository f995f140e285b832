/**
 * The pool on the command line, as a person uses it: `accounts use` pins and unpins (the pin lands in the home's
 * quota.json, 0600), `accounts` shows the pinned and the cooling accounts, `status` records its live readings so an
 * account at 100 % shows as cooling (and a proxy on the home stops picking it), and `proxy` refuses a bad
 * `--strategy` or `--account` with `--strategy` with a usage error. Runs `dist/` (npm test builds first).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { FileCredentialStore } from '../../src/store/index.js'
import type { Simulator } from '../../src/sim/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const homes: string[] = []

afterEach(async () => {
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      done({ code, stdout, stderr })
    })
  })
}

async function homeWithTwo(): Promise<{ sim: Simulator; home: string; ids: string[] }> {
  const sim = await useSimulator()
  const home = await mkdtemp(join(tmpdir(), 'cb-pool-cli-'))
  homes.push(home)
  const store = new FileCredentialStore({ home })
  const ids: string[] = []
  for (const email of ['alice@example.com', 'bob@example.com']) {
    const account = await signIn(sim, { email })
    ids.push(account.accountId)
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
  return { sim, home, ids }
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>
}

interface AccountRow {
  id: string
  pool: { pinned: boolean; usable: boolean; cooldownReason: string | null } | null
}

describe('the pool on the command line', () => {
  it('accounts use pins and unpins; accounts shows it', async () => {
    const { sim, home, ids } = await homeWithTwo()
    const global = ['--home', home, '--issuer', sim.issuer, '--backend-url', sim.backendBase]
    const [alice = '', bob = ''] = ids

    const pin = await run([...global, 'accounts', 'use', 'bob@example.com', '--json'])
    expect(pin.code).toBe(0)
    expect(lastJson(pin.stdout)).toMatchObject({ event: 'pinned', accountId: bob })
    expect((await stat(join(home, 'quota.json'))).mode & 0o777).toBe(0o600)

    const listed = await run([...global, 'accounts', '--json'])
    const rows = (lastJson(listed.stdout) as { accounts: AccountRow[] }).accounts
    expect(rows.find((row) => row.id === bob)?.pool?.pinned).toBe(true)
    expect(rows.find((row) => row.id === alice)?.pool?.pinned).toBe(false)
    const text = await run([...global, 'accounts'])
    expect(text.stdout).toMatch(/POOL/)
    expect(text.stdout.split('\n').find((line) => line.includes(bob))).toContain('pinned')

    const shown = await run([...global, 'accounts', 'use'])
    expect(shown.stdout).toContain(`Pinned: ${bob}`)
    const cleared = await run([...global, 'accounts', 'use', '--clear'])
    expect(cleared.code).toBe(0)
    const after = await run([...global, 'accounts', 'use'])
    expect(after.stdout).toContain('No account is pinned.')

    const unknown = await run([...global, 'accounts', 'use', 'nobody@example.com'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('No account matches')
  })

  it('status records an account at 100 % as cooling; the other stays usable', async () => {
    const { sim, home, ids } = await homeWithTwo()
    const global = ['--home', home, '--issuer', sim.issuer, '--backend-url', sim.backendBase]
    const [alice = '', bob = ''] = ids
    sim.control.setQuota({ accountId: alice, primaryUsedPercent: 100, resetsInSeconds: 3_600 })

    const status = await run([...global, 'status', '--json'])
    expect(status.code).toBe(0)
    const rows = (lastJson(status.stdout) as { accounts: AccountRow[] }).accounts
    expect(rows.find((row) => row.id === alice)?.pool).toMatchObject({
      usable: false,
      cooldownReason: 'quota_exhausted',
    })
    expect(rows.find((row) => row.id === bob)?.pool?.usable).toBe(true)
    const quota = JSON.parse(await readFile(join(home, 'quota.json'), 'utf8')) as {
      accounts: Record<string, { cooldownUntil: number | null }>
    }
    expect(quota.accounts[alice]?.cooldownUntil).toBeGreaterThan(Date.now())
    const text = await run([...global, 'accounts'])
    expect(text.stdout.split('\n').find((line) => line.includes(alice))).toMatch(
      /quota used up until \d\d:\d\d UTC|quota used up until \d{4}-/,
    )
  })

  it('proxy refuses a bad --strategy, and --account with --strategy', async () => {
    const { sim, home } = await homeWithTwo()
    const global = ['--home', home, '--issuer', sim.issuer, '--backend-url', sim.backendBase]
    const bad = await run([...global, 'proxy', '--strategy', 'random'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('sticky, round-robin, least-used, pinned')
    const both = await run([
      ...global,
      'proxy',
      '--account',
      'bob@example.com',
      '--strategy',
      'sticky',
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--account or --strategy')
    const pinnedWithout = await run([...global, 'proxy', '--strategy', 'pinned'])
    expect(pinnedWithout.code).toBe(2)
    expect(pinnedWithout.stderr).toContain('accounts use')
  })
})
