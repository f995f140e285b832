/**
 * The account commands end to end, as a person runs them against the simulator: browser and device sign-in,
 * `accounts`, `status`, export and import of the official CLI's auth.json, `logout --everywhere`, and a canary
 * scan of everything the commands printed and left on disk against every secret the simulator issued.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { freeLoopbackPort } from '../../src/cli/free-port.js'
import type { Simulator } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const printed: string[] = []
const homes: string[] = []

afterEach(async () => {
  printed.length = 0
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

interface Run {
  code: number | null
  events: Record<string, unknown>[]
  stdout: string
  stderr: string
}

/** Runs the CLI; `onEvent` sees each JSON line as it arrives (to play the browser or approve a code). */
function runCli(
  args: string[],
  onEvent: (event: Record<string, unknown>) => Promise<void> | void = () => undefined,
): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const events: Record<string, unknown>[] = []
    let stdout = ''
    let stderr = ''
    const pending: Promise<void>[] = []
    createInterface({ input: child.stdout }).on('line', (line) => {
      stdout += `${line}\n`
      if (line.startsWith('{')) {
        const event = JSON.parse(line) as Record<string, unknown>
        events.push(event)
        pending.push(Promise.resolve(onEvent(event)))
      } else {
        pending.push(Promise.resolve(onEvent({ event: 'text', line })))
      }
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      printed.push(stdout, stderr)
      Promise.all(pending)
        .then(() => {
          resolvePromise({ code, events, stdout, stderr })
        })
        .catch(reject)
    })
  })
}

async function setup(): Promise<{
  sim: Simulator
  home: string
  global: string[]
  ports: number[]
}> {
  // Two registered ports, as in production: if another process grabs the first, the sign-in falls back.
  const first = await freeLoopbackPort()
  const ports = [first, await freeLoopbackPort([first])]
  const sim = await useSimulator({
    callbackPorts: ports,
    accounts: [{ email: 'alice@example.com', plan: 'pro' }],
    config: { autoApprove: 'alice@example.com', devicePollIntervalSeconds: 0 },
  })
  const home = await mkdtemp(join(tmpdir(), 'cb-e2e-'))
  homes.push(home)
  const global = [
    '--home',
    join(home, 'broker'),
    '--issuer',
    sim.issuer,
    '--backend-url',
    sim.backendBase,
  ]
  return { sim, home, global, ports }
}

/** Plays the browser: follows the issuer's redirect to the loopback callback and checks the page. */
async function playBrowser(url: string): Promise<void> {
  const authorize = await fetch(url, { redirect: 'manual' })
  const location = authorize.headers.get('location')
  expect(authorize.status).toBe(302)
  const page = await fetch(location ?? '')
  expect(page.status).toBe(200)
}

async function browserLogin(global: string[], ports: number[], extra: string[] = []): Promise<Run> {
  const portFlags = ports.flatMap((port) => ['--callback-port', String(port)])
  return runCli(
    [...global, 'login', '--json', '--no-open', ...portFlags, ...extra],
    async (event) => {
      if (event.event === 'authorize_url') await playBrowser(String(event.url))
    },
  )
}

/** Every file under `dir`, relative path → bytes. */
async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name)
    if ((await stat(path)).isFile()) files.set(relative(dir, path), await readFile(path))
  }
  return files
}

/** Fails if any issued secret — or a recognisable piece or encoding of one — is in `text`. */
function expectNoSecret(text: string, secrets: readonly string[], where: string): void {
  for (const secret of secrets) {
    const forms = [
      secret,
      secret.slice(0, 24),
      secret.slice(-24),
      Buffer.from(secret).toString('base64'),
      encodeURIComponent(secret),
      createHash('sha256').update(secret).digest('hex'),
    ]
    for (const form of forms) {
      if (form.length >= 12 && text.includes(form)) {
        throw new Error(`a secret issued by the simulator appears in ${where}`)
      }
    }
  }
}

describe('account commands end to end', () => {
  it('signs in with the browser, lists, shows status, exports, imports and logs out everywhere — printing no token', async () => {
    const { sim, home, global, ports } = await setup()
    const login = await browserLogin(global, ports, ['--label', 'work'])
    expect(login.code).toBe(0)
    expect(login.events.map((event) => event.event)).toEqual(['authorize_url', 'logged_in'])
    expect(login.events[1]).toMatchObject({
      account: { email: 'alice@example.com', plan: 'pro', label: 'work' },
    })
    const accountsFile = join(home, 'broker', 'accounts.json')
    expect((await stat(accountsFile)).mode & 0o777).toBe(0o600)
    expect((await stat(join(home, 'broker'))).mode & 0o777).toBe(0o700)

    const list = await runCli([...global, 'accounts', '--json'])
    expect(list.code).toBe(0)
    const [listed] = list.events
    expect(listed).toMatchObject({
      event: 'accounts',
      accounts: [{ email: 'alice@example.com', status: 'active', label: 'work' }],
    })

    const { accountId } = sim.control.accounts()[0] ?? { accountId: '' }
    sim.control.setQuota({ accountId, primaryUsedPercent: 37 })
    const status = await runCli([...global, 'status', '--json'])
    expect(status.code).toBe(0)
    expect(status.events[0]).toMatchObject({
      accounts: [
        { email: 'alice@example.com', usage: { planType: 'pro', primary: { usedPercent: 37 } } },
      ],
    })
    const human = await runCli([...global, 'status'])
    expect(human.stdout).toMatch(/work\s+pro\s+active\s+37%/)

    const exported = join(home, 'auth.json')
    const exportRun = await runCli([...global, 'accounts', 'export', 'work', '--out', exported])
    expect(exportRun.code).toBe(0)
    expect((await stat(exported)).mode & 0o777).toBe(0o600)
    const authJson = JSON.parse(await readFile(exported, 'utf8')) as Record<string, unknown>
    expect(authJson).toMatchObject({ auth_mode: 'chatgpt', tokens: { account_id: accountId } })
    const again = await runCli([...global, 'accounts', 'export', 'work', '--out', exported])
    expect(again.code).toBe(2)

    const otherHome = ['--home', join(home, 'other'), ...global.slice(2)]
    const imported = await runCli([...otherHome, 'accounts', 'import', exported])
    expect(imported.code).toBe(0)
    expect(imported.stderr).toContain('refresh')
    const otherList = await runCli([...otherHome, 'accounts', '--json'])
    expect(otherList.events[0]).toMatchObject({ accounts: [{ id: accountId }] })

    const before = sim.control.counters().revokedFamilies
    const logout = await runCli([...global, 'logout', 'work', '--everywhere', '--json'])
    expect(logout.code).toBe(0)
    expect(sim.control.counters().revokedFamilies).toBe(before + 1)
    const empty = await runCli([...global, 'accounts', '--json'])
    expect(empty.events[0]).toMatchObject({ accounts: [] })

    // The canary scan: no issued secret in anything printed, nor in any file but the credential files.
    const secrets = sim.control.issued()
    expect(secrets.length).toBeGreaterThan(3)
    expectNoSecret(printed.join('\n'), secrets, 'the command output')
    const allowed = new Set(['broker/accounts.json', 'broker/accounts.json.bak', 'auth.json'])
    const other = new Set(['other/accounts.json', 'other/accounts.json.bak'])
    for (const [path, bytes] of await filesUnder(home)) {
      if (allowed.has(path) || other.has(path)) continue
      expectNoSecret(bytes.toString('latin1'), secrets, path)
    }
    // Positive control: the scan does find the tokens where they are meant to be.
    expect(() => {
      expectNoSecret(JSON.stringify(authJson), secrets, 'auth.json')
    }).toThrow()
  })

  it('with --encrypt keeps tokens off the disk in clear, and later commands find the key themselves', async () => {
    const { sim, home, global, ports } = await setup()
    const login = await browserLogin([...global, '--encrypt'], ports)
    expect(login.code).toBe(0)
    const accountsText = await readFile(join(home, 'broker', 'accounts.json'), 'utf8')
    expect(accountsText).toContain('alice@example.com')
    expectNoSecret(accountsText, sim.control.issued(), 'the encrypted accounts.json')
    expect((await stat(join(home, 'broker', 'key'))).mode & 0o777).toBe(0o600)
    const status = await runCli([...global, 'status', '--json'])
    expect(status.code).toBe(0)
    expect(status.events[0]).toMatchObject({
      accounts: [{ email: 'alice@example.com', status: 'active', error: null }],
    })
    // Positive control: without --encrypt the same sign-in stores the tokens in clear (0600).
    const plainHome = ['--home', join(home, 'plain'), ...global.slice(2)]
    expect((await browserLogin(plainHome, ports)).code).toBe(0)
    const plainText = await readFile(join(home, 'plain', 'accounts.json'), 'utf8')
    expect(() => {
      expectNoSecret(plainText, sim.control.issued(), 'plain')
    }).toThrow()
  })

  it('signs in with a device code approved elsewhere, showing the phishing warning', async () => {
    const { sim, global } = await setup()
    const run = await runCli([...global, 'login', '--device', '--json'], (event) => {
      if (event.event === 'device_code') {
        sim.control.approveDevice({ userCode: String(event.userCode), email: 'alice@example.com' })
      }
    })
    expect(run.code).toBe(0)
    expect(run.events.map((event) => event.event)).toEqual(['device_code', 'logged_in'])
    expect(run.events[0]?.verificationUrl).toBe(`${sim.issuer}/codex/device`)
    const human = await runCli([...global, 'login', '--device'], (event) => {
      const code = /Enter the code (\S+)/.exec(String(event.line))?.[1]
      if (code) sim.control.approveDevice({ userCode: code, email: 'alice@example.com' })
    })
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Never share this code')
    expect(human.stdout).toContain('expires in 15 minutes')
    expect(human.stdout).toContain('Signed in as')
    expectNoSecret(printed.join('\n'), sim.control.issued(), 'the command output')
  })

  it('says what to do when device sign-in is not enabled, and exits 1', async () => {
    const port = await freeLoopbackPort()
    const sim = await useSimulator({
      callbackPorts: [port],
      accounts: [{ email: 'nodevice@example.com', deviceAuthEnabled: false }],
    })
    const home = await mkdtemp(join(tmpdir(), 'cb-e2e-'))
    homes.push(home)
    const run = await runCli(['--home', home, '--issuer', sim.issuer, 'login', '--device'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('ERR_DEVICE_AUTH_NOT_ENABLED')
    expect(run.stderr).toMatch(/Settings/)
  })

  it('refuses plain http to a non-loopback issuer as a usage error', async () => {
    const run = await runCli(['--issuer', 'http://auth.example.com', 'accounts'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('ERR_INVALID_CONFIG')
    // Positive control: the same command with a loopback issuer works.
    const home = await mkdtemp(join(tmpdir(), 'cb-e2e-'))
    homes.push(home)
    const ok = await runCli(['--home', home, '--issuer', 'http://127.0.0.1:9', 'accounts'])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('No accounts yet')
  })
})
