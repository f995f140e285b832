import { spawnSync } from 'node:child_process'
import { lstat, readFile, symlink, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ManualClock, isBrokerError } from '../../src/lib/index.js'
import {
  acquireFileLock,
  isProcessAlive,
  readFileLockHolder,
  withFileLock,
} from '../../src/store/index.js'
import { makeTempDir, modeOf, rejectionOf } from './fixtures.js'

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid
}

async function writeLock(
  path: string,
  holder: { pid: number; hostname?: string; acquiredAt?: number; token?: string },
): Promise<void> {
  await writeFile(
    path,
    JSON.stringify({
      pid: holder.pid,
      hostname: holder.hostname ?? hostname(),
      acquiredAt: new Date(holder.acquiredAt ?? Date.now()).toISOString(),
      token: holder.token ?? 'someone-else',
    }),
    { mode: 0o600 },
  )
}

describe('file lock', () => {
  it('creates the lock 0600 with pid, hostname, acquiredAt and token, and removes it on release', async () => {
    const path = join(await makeTempDir(), 'locks', 'store.lock')
    const lock = await acquireFileLock(path)
    expect(await modeOf(join(path, '..'))).toBe(0o700)
    expect(await modeOf(path)).toBe(0o600)
    const holder = await readFileLockHolder(path)
    expect(holder).toMatchObject({ pid: process.pid, hostname: hostname(), token: lock.token })
    expect(Math.abs((holder?.acquiredAt ?? 0) - Date.now())).toBeLessThan(5_000)
    expect(await lock.release()).toBe(true)
    await expect(lstat(path)).rejects.toThrow()
    expect(await lock.release()).toBe(false)
  })

  it('excludes: a read-modify-write counter under the lock from 25 concurrent tasks never interleaves', async () => {
    const dir = await makeTempDir()
    const path = join(dir, 'counter.lock')
    const counter = join(dir, 'counter')
    await writeFile(counter, '0')
    let inside = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 25 }, () =>
        withFileLock(
          path,
          async () => {
            inside += 1
            most = Math.max(most, inside)
            const value = Number(await readFile(counter, 'utf8'))
            await delay(1)
            await writeFile(counter, String(value + 1))
            inside -= 1
          },
          { timeoutMs: 20_000 },
        ),
      ),
    )
    expect(most).toBe(1)
    expect(await readFile(counter, 'utf8')).toBe('25')
  })

  it('times out with ERR_LOCK_TIMEOUT naming the lock and the holder pid', async () => {
    const path = join(await makeTempDir(), 'busy.lock')
    const lock = await acquireFileLock(path)
    const started = Date.now()
    const error = await rejectionOf(
      acquireFileLock(path, { timeoutMs: 150, description: 'the refresh lock of account acc-9' }),
    )
    expect(isBrokerError(error, 'ERR_LOCK_TIMEOUT'), String(error)).toBe(true)
    const message = (error as Error).message
    expect(message).toContain('the refresh lock of account acc-9')
    expect(message).toContain(`held by pid ${process.pid}`)
    expect(message).toContain(`rm ${path}`)
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1_500)
    await lock.release()
  })

  it('recovers the lock of a dead process on this host', async () => {
    const path = join(await makeTempDir(), 'stale.lock')
    const pid = deadPid()
    expect(isProcessAlive(pid)).toBe(false)
    await writeLock(path, { pid })
    const lock = await acquireFileLock(path, { timeoutMs: 1_000 })
    expect((await readFileLockHolder(path))?.token).toBe(lock.token)
    await lock.release()
  })

  it('does not judge a pid of another host, and waits for it', async () => {
    const path = join(await makeTempDir(), 'remote.lock')
    await writeLock(path, { pid: deadPid(), hostname: 'some-other-host' })
    const error = await rejectionOf(acquireFileLock(path, { timeoutMs: 100 }))
    expect(isBrokerError(error, 'ERR_LOCK_TIMEOUT'), String(error)).toBe(true)
    expect((error as Error).message).toContain('on some-other-host')
  })

  it('treats a lock older than staleMs as stale (ManualClock), and not a moment before', async () => {
    const path = join(await makeTempDir(), 'old.lock')
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'))
    const first = await acquireFileLock(path, { clock })
    clock.advance(59_000)
    const early = await rejectionOf(acquireFileLock(path, { clock, timeoutMs: 0 }))
    expect(isBrokerError(early, 'ERR_LOCK_TIMEOUT'), String(early)).toBe(true)
    clock.advance(2_000)
    const second = await acquireFileLock(path, { clock, timeoutMs: 0 })
    expect((await readFileLockHolder(path))?.token).toBe(second.token)
    // The first holder outlived staleMs: its release must not delete its successor's lock.
    expect(await first.release()).toBe(false)
    expect((await readFileLockHolder(path))?.token).toBe(second.token)
    expect(await second.release()).toBe(true)
  })

  it('honours a custom staleMs', async () => {
    const path = join(await makeTempDir(), 'short.lock')
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'))
    await acquireFileLock(path, { clock, staleMs: 1_000 })
    clock.advance(1_001)
    await expect(
      acquireFileLock(path, { clock, staleMs: 1_000, timeoutMs: 0 }),
    ).resolves.toBeDefined()
  })

  it('release compares the token: a lock rewritten by another holder is left in place', async () => {
    const path = join(await makeTempDir(), 'token.lock')
    const lock = await acquireFileLock(path)
    await writeLock(path, { pid: process.pid, token: 'successor' })
    expect(await lock.release()).toBe(false)
    expect((await readFileLockHolder(path))?.token).toBe('successor')
  })

  it('judges an unreadable lock file by its age', async () => {
    const path = join(await makeTempDir(), 'garbled.lock')
    await writeFile(path, '', { mode: 0o600 })
    const fresh = await rejectionOf(acquireFileLock(path, { timeoutMs: 50 }))
    expect(isBrokerError(fresh, 'ERR_LOCK_TIMEOUT'), String(fresh)).toBe(true)
    expect((fresh as Error).message).toContain('unreadable')
    const old = new Date(Date.now() - 120_000)
    await utimes(path, old, old)
    const lock = await acquireFileLock(path, { timeoutMs: 1_000 })
    expect(await lock.release()).toBe(true)
  })

  it('many waiters racing to recover one stale lock: exactly one holds it at a time', async () => {
    const path = join(await makeTempDir(), 'race.lock')
    await writeLock(path, { pid: deadPid() })
    let inside = 0
    let most = 0
    let runs = 0
    await Promise.all(
      Array.from({ length: 12 }, () =>
        withFileLock(
          path,
          async () => {
            inside += 1
            runs += 1
            most = Math.max(most, inside)
            await delay(2)
            inside -= 1
          },
          { timeoutMs: 20_000 },
        ),
      ),
    )
    expect(most).toBe(1)
    expect(runs).toBe(12)
    await expect(lstat(`${path}.recover`)).rejects.toThrow()
  })

  it('removes a recovery guard left by a crashed recoverer', async () => {
    const path = join(await makeTempDir(), 'guarded.lock')
    await writeLock(path, { pid: deadPid() })
    await writeLock(`${path}.recover`, { pid: deadPid() })
    const lock = await acquireFileLock(path, { timeoutMs: 2_000 })
    expect((await readFileLockHolder(path))?.token).toBe(lock.token)
    await lock.release()
  })

  it('refuses a lock path that is a symbolic link, and leaves its target alone', async () => {
    const dir = await makeTempDir()
    const victim = join(dir, 'victim')
    await writeFile(victim, 'keep')
    const path = join(dir, 'link.lock')
    await symlink(victim, path)
    const error = await rejectionOf(acquireFileLock(path, { timeoutMs: 100 }))
    expect(isBrokerError(error, 'ERR_UNSAFE_FILE'), String(error)).toBe(true)
    expect(await readFile(victim, 'utf8')).toBe('keep')
  })

  it('isProcessAlive: true for this process, false for a dead pid and nonsense', () => {
    expect(isProcessAlive(process.pid)).toBe(true)
    expect(isProcessAlive(deadPid())).toBe(false)
    expect(isProcessAlive(-1)).toBe(false)
    expect(isProcessAlive(1.5)).toBe(false)
  })
})
