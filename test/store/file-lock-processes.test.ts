/**
 * The file lock across real processes: child `node` processes import the built package (`dist/`, which npm test
 * builds first), so the children run the same code as the broker.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { acquireFileLock, readFileLockHolder } from '../../src/store/index.js'
import { makeTempDir } from './fixtures.js'

const distIndex = fileURLToPath(new URL('../../dist/index.js', import.meta.url))
let bundleDir = ''

beforeAll(async () => {
  bundleDir = await realpath(await mkdtemp(join(tmpdir(), 'codex-broker-lock-bundle-')))
  await writeFile(
    join(bundleDir, 'worker.mjs'),
    `import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { acquireFileLock, withFileLock } from '${pathToFileURL(distIndex).href}'
const [mode, lockPath, dir, rounds] = process.argv.slice(2)
if (mode === 'hold') {
  await acquireFileLock(lockPath)
  process.stdout.write('held\\n')
  setInterval(() => undefined, 1000)
} else if (mode === 'churn') {
  process.stdout.write('ready\\n')
  for (;;) await withFileLock(lockPath, async () => undefined, { timeoutMs: 30000 })
} else {
  for (let i = 0; i < Number(rounds); i++) {
    await withFileLock(lockPath, async () => {
      await appendFile(dir + '/log', 'enter ' + process.pid + '\\n')
      const value = Number(await readFile(dir + '/counter', 'utf8'))
      await new Promise((resolve) => setTimeout(resolve, 1))
      await writeFile(dir + '/counter', String(value + 1))
      await appendFile(dir + '/log', 'exit ' + process.pid + '\\n')
    }, { timeoutMs: 30000 })
  }
}
`,
  )
  return async () => {
    await rm(bundleDir, { recursive: true, force: true })
  }
})

function run(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [join(bundleDir, 'worker.mjs'), ...args], {
    stdio: 'inherit',
  })
  return new Promise((resolve) => child.on('exit', resolve))
}

describe('file lock across processes', () => {
  it('4 processes × 25 locked read-modify-writes: no interleaving, nothing lost', async () => {
    const dir = await makeTempDir()
    const lockPath = join(dir, 'locks', 'counter.lock')
    await writeFile(join(dir, 'counter'), '0')
    await writeFile(join(dir, 'log'), '')
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => run(['count', lockPath, dir, '25'])),
    )
    expect(codes).toEqual([0, 0, 0, 0])
    expect(await readFile(join(dir, 'counter'), 'utf8')).toBe('100')
    const lines = (await readFile(join(dir, 'log'), 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(200)
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, exit] = [lines[i]?.split(' '), lines[i + 1]?.split(' ')]
      expect(enter?.[0]).toBe('enter')
      expect(exit).toEqual(['exit', enter?.[1]])
    }
  })

  it('a lock file is never seen without its holder, and a holder killed at any moment is recovered at once', async () => {
    const dir = await makeTempDir()
    const lockPath = join(dir, 'locks', 'account.lock')
    let held = 0
    let empty = 0
    for (let round = 0; round < 8; round += 1) {
      const child = spawn(process.execPath, [join(bundleDir, 'worker.mjs'), 'churn', lockPath], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      await new Promise<void>((resolve) => {
        child.stdout.once('data', () => {
          resolve()
        })
      })
      // Read the lock file as fast as possible while the child takes and releases it in a loop.
      const until = Date.now() + 150 + round * 20
      while (Date.now() < until) {
        const text = await readFile(lockPath, 'utf8').catch(() => null)
        if (text === null) continue
        if (text.includes('"pid"')) held += 1
        else empty += 1
      }
      const exited = new Promise((resolve) => child.on('exit', resolve))
      child.kill('SIGKILL')
      await exited
      const started = Date.now()
      const lock = await acquireFileLock(lockPath, { timeoutMs: 2_000 })
      expect(Date.now() - started).toBeLessThan(1_000)
      await lock.release()
    }
    // Control: the reads did catch the lock held; none caught it created but not yet written.
    expect(held).toBeGreaterThan(0)
    expect(empty).toBe(0)
  })

  it('a holder killed with SIGKILL leaves a lock the next process recovers at once', async () => {
    const dir = await makeTempDir()
    const lockPath = join(dir, 'locks', 'account.lock')
    const child = spawn(process.execPath, [join(bundleDir, 'worker.mjs'), 'hold', lockPath], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve) => {
      child.stdout.once('data', () => {
        resolve()
      })
    })
    expect((await readFileLockHolder(lockPath))?.pid).toBe(child.pid)
    const exited = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGKILL')
    await exited
    const started = Date.now()
    const lock = await acquireFileLock(lockPath, { timeoutMs: 2_000 })
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((await readFileLockHolder(lockPath))?.pid).toBe(process.pid)
    await lock.release()
  })
})
