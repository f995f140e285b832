/**
 * The runner flags of the built CLI (npm test builds first): `serve --agent-runner` and `web --runner` take
 * `direct` or `codex-cli` and nothing else, and `--codex-binary` without `codex-cli` keeps the command from
 * starting, with a message naming the flags; with `codex-cli` and the fake `codex` both commands start and
 * listen (the positive controls).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FAKE_CODEX } from '../runners/fixtures.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const children: ChildProcessWithoutNullStreams[] = []
const homes: string[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

interface Running {
  readonly child: ChildProcessWithoutNullStreams
  readonly output: () => string
  readonly exited: Promise<number | null>
}

async function run(args: string[]): Promise<Running> {
  const home = await mkdtemp(join(tmpdir(), 'cb-runner-flags-'))
  homes.push(home)
  const child = spawn(process.execPath, [cli, '--home', home, ...args], { stdio: 'pipe' })
  children.push(child)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stdin.end()
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code) => {
      done(code)
    }),
  )
  return { child, output: () => output, exited }
}

async function printed(running: Running, pattern: RegExp): Promise<boolean> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline && running.child.exitCode === null) {
    if (pattern.test(running.output())) return true
    await new Promise((done) => setTimeout(done, 25))
  }
  return false
}

const SERVE = ['serve', '--listen', 'ws://127.0.0.1:0', '--json']
const WEB = ['web', '--json']

describe('runner flags', () => {
  it.each([
    [[...SERVE, '--agent-runner', 'codex'], '--agent-runner: must be direct or codex-cli'],
    [[...SERVE, '--codex-binary', FAKE_CODEX], '--codex-binary needs --agent-runner codex-cli'],
    [
      [...SERVE, '--agent-runner', 'direct', '--codex-binary', FAKE_CODEX],
      '--codex-binary needs --agent-runner codex-cli',
    ],
    [[...WEB, '--runner', 'agent'], '--runner: must be direct or codex-cli'],
    [[...WEB, '--codex-binary', FAKE_CODEX], '--codex-binary needs --runner codex-cli'],
  ])('%j refuses to start', async (args, message) => {
    const running = await run(args)
    expect(await running.exited).toBe(2)
    expect(running.output()).toContain('ERR_INVALID_CONFIG')
    expect(running.output()).toContain(message)
  })

  it.each([
    [
      [
        'serve',
        '--listen',
        'ws://127.0.0.1:0',
        '--agent-runner',
        'codex-cli',
        '--codex-binary',
        FAKE_CODEX,
      ],
      /agent\/run uses the codex-cli runner[^]*listening on ws:/,
    ],
    [[...WEB, '--runner', 'codex-cli', '--codex-binary', FAKE_CODEX], /"event":"listening"/],
  ])('positive control: %j starts and listens', async (args, pattern) => {
    const running = await run(args)
    expect(await printed(running, pattern), running.output()).toBe(true)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })
})
