/**
 * Test fixtures for the runners: a simulator with signed-in accounts stored in a private temporary
 * `FileCredentialStore`, a `CodexCliRunner` on the fake `codex` (fixtures/fake-codex.mjs), a working directory
 * with the fake's control file, a logger whose JSON lines are kept, and helpers that collect a run's events,
 * wait for a file the fake writes, and tell whether a process is still alive.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { onTestFinished } from 'vitest'
import { createLogger, type Logger, Secret } from '../../src/lib/index.js'
import type { IssuerConfig } from '../../src/oauth/index.js'
import {
  CodexCliRunner,
  type CodexCliRunnerOptions,
  type RunEvent,
} from '../../src/runners/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { accountFromSignIn, FileCredentialStore } from '../../src/store/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { useSimulator } from '../support/sim.js'
import { signIn, type SignedInAccount } from '../support/sim-tokens.js'

/** The fake `codex` script. */
export const FAKE_CODEX = join(import.meta.dirname, 'fixtures', 'fake-codex.mjs')

/** How the fake behaves (its `fake-codex.json`). */
export interface FakeControl {
  readonly mode?: 'ok' | 'hang' | 'spew' | 'spew-stderr' | 'exit' | 'fail' | 'print-secrets'
  readonly refresh?: boolean
  /** In `hang` mode: an answer printed before hanging. */
  readonly say?: string
}

/** What the fake saw (its `observed.json`). */
export interface Observed {
  readonly argv: string[]
  readonly env: Record<string, string>
  readonly prompt: string
  readonly cwd: string
  readonly home: string
  readonly homeMode: number
  readonly authMode: number
  readonly configText: string
}

/**
 * A logger whose lines are kept: the broker's redacting logger, or (`raw`) a plain pino logger without any
 * redaction, so a test sees what the runner itself lets out.
 */
export function capturedLogger(raw = false): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'))
      callback()
    },
  })
  const logger = raw
    ? pino({ level: 'debug' }, destination)
    : createLogger({ level: 'debug', destination })
  return { logger, lines }
}

/** Stores a signed-in simulator account. */
export async function storeAccount(
  store: FileCredentialStore,
  signedIn: SignedInAccount,
): Promise<void> {
  await store.put(
    accountFromSignIn(
      {
        idToken: Secret.from(signedIn.idToken),
        accessToken: Secret.from(signedIn.accessToken),
        refreshToken: Secret.from(signedIn.refreshToken),
        expiresIn: null,
      },
      { now: Date.now() },
    ),
  )
}

/**
 * A simulator, two signed-in accounts in a file store, and a runner factory on the fake CLI; `rawLogger` gives
 * the runners a logger without redaction of its own.
 */
export async function setup(options: { rawLogger?: boolean } = {}) {
  const sim: Simulator = await useSimulator()
  const alice = await signIn(sim, { email: 'alice@example.com' })
  const bob = await signIn(sim, { email: 'bob@example.com' })
  const dir = await makeTempDir()
  const store = new FileCredentialStore({ home: join(dir, 'broker') })
  await storeAccount(store, alice)
  await storeAccount(store, bob)
  const issuer: IssuerConfig = { issuer: sim.issuer, clientId: CODEX_CLIENT_ID }
  const { logger, lines } = capturedLogger(options.rawLogger === true)
  const tempDir = join(dir, 'runs')
  await mkdir(tempDir, { mode: 0o700 })
  /** A runner on the fake CLI (or, with `fake` false, on whatever `options` locate). */
  const runner = (options: Partial<CodexCliRunnerOptions> = {}, fake = true) =>
    new CodexCliRunner({
      store,
      issuer,
      backendBase: sim.backendBase,
      ...(fake ? { binary: FAKE_CODEX } : {}),
      tempDir,
      logger,
      timeoutMs: 15_000,
      ...options,
    })
  /**
   * A working directory with the fake's control file. A test that fails before its run ends must not leave a
   * hanging fake behind (it runs in a process group of its own): whatever pids it wrote are killed afterwards.
   */
  const workDir = async (name: string, control: FakeControl = {}): Promise<string> => {
    const path = join(dir, name)
    await mkdir(path)
    await writeFile(join(path, 'fake-codex.json'), JSON.stringify(control))
    onTestFinished(() => {
      killWrittenPids(join(path, 'pids.json'))
    })
    return path
  }
  return { sim, alice, bob, dir, store, issuer, runner, workDir, logLines: lines, tempDir }
}

function killWrittenPids(path: string): void {
  if (!existsSync(path)) return
  const pids = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>
  for (const pid of Object.values(pids)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** All events of a run. */
export async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const all: RunEvent[] = []
  for await (const event of events) all.push(event)
  return all
}

/** Waits until `path` exists (the fake writes its files atomically) and parses it. */
export async function waitForJson<T>(path: string, timeoutMs = 10_000): Promise<T> {
  const started = Date.now()
  while (!existsSync(path)) {
    if (Date.now() - started > timeoutMs) throw new Error(`${path} did not appear`)
    await sleep(10)
  }
  return JSON.parse(await readFile(path, 'utf8')) as T
}

/** True while `pid` is a live process (a zombie counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}

/** Waits until `pid` is gone. */
export async function waitDead(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const started = Date.now()
  while (isAlive(pid)) {
    if (Date.now() - started > timeoutMs) return false
    await sleep(10)
  }
  return true
}
