import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { constants } from 'node:fs'
import {
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/errors.js'
import { type SafeFileHandle, type SafeFs, nodeFs } from '../../src/lib/fs-shim.js'
import { tempNamePattern, writeSecretFile } from '../../src/lib/safe-write.js'
import { makeTempDir } from './temp-dir.js'

const posix = process.platform !== 'win32'
const mode = async (path: string) => (await stat(path)).mode & 0o777
const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')
const leftovers = async (dir: string, base: string) =>
  (await readdir(dir)).filter((name) => tempNamePattern(base).test(name))

async function expectUnsafe(promise: Promise<unknown>, fragment: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isBrokerError(error, 'ERR_UNSAFE_FILE'), String(error)).toBe(true)
  expect((error as Error).message).toContain(fragment)
}

/** A shim that records each call (and can fail one step) while delegating to the real fs. */
function recordingFs(failOn?: string) {
  const calls: string[] = []
  const step = (name: string) => {
    calls.push(name)
    if (name === failOn) {
      throw Object.assign(new Error(`injected failure at ${name}`), { code: 'EIO' })
    }
  }
  const wrapHandle = (handle: SafeFileHandle, label: string): SafeFileHandle => ({
    chmod: async (m) => {
      step(`fchmod(${label},${m.toString(8)})`)
      await handle.chmod(m)
    },
    writeFile: async (data) => {
      step(`write(${label})`)
      await handle.writeFile(data)
    },
    sync: async () => {
      step(`fsync(${label})`)
      await handle.sync()
    },
    stat: () => handle.stat(),
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    close: async () => {
      calls.push(`close(${label})`)
      await handle.close()
    },
  })
  const fs: SafeFs = {
    ...nodeFs,
    open: async (path, flags, openMode) => {
      const label = path.endsWith('.tmp') ? 'tmp' : 'dir'
      const excl = (flags & constants.O_EXCL) !== 0 ? '|EXCL' : ''
      const nofollow = (flags & constants.O_NOFOLLOW) !== 0 ? '|NOFOLLOW' : ''
      const creat = (flags & constants.O_CREAT) !== 0 ? '|CREAT' : ''
      step(`open(${label}${creat}${excl}${nofollow},${openMode?.toString(8) ?? '-'})`)
      return wrapHandle(await nodeFs.open(path, flags, openMode), label)
    },
    rename: async (from, to) => {
      step('rename')
      await nodeFs.rename(from, to)
    },
  }
  return { fs, calls }
}

describe('writeSecretFile', () => {
  it('FS-01: creates an absent target with mode 0600 and the exact bytes', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    await writeSecretFile(target, '{"version":1}')
    expect(await readFile(target, 'utf8')).toBe('{"version":1}')
    if (posix) expect(await mode(target)).toBe(0o600)
    expect(await leftovers(dir, 'accounts.json')).toEqual([])
  })

  it('writes binary data', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'key.bin')
    const bytes = Uint8Array.from([0, 255, 1, 254])
    await writeSecretFile(target, bytes)
    expect([...(await readFile(target))]).toEqual([...bytes])
  })

  it.runIf(posix)(
    'FS-02: an existing 0644 file is rewritten 0600 (forced, not inherited)',
    async () => {
      const dir = await makeTempDir()
      const target = join(dir, 'accounts.json')
      await writeFile(target, 'old', { mode: 0o644 })
      expect(await mode(target)).toBe(0o644)
      await writeSecretFile(target, 'new')
      expect(await readFile(target, 'utf8')).toBe('new')
      expect(await mode(target)).toBe(0o600)
    },
  )

  it.runIf(posix)('forces 0600 even under a permissive umask', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'token')
    const previous = process.umask(0)
    try {
      await writeSecretFile(target, 'x')
    } finally {
      process.umask(previous)
    }
    expect(await mode(target)).toBe(0o600)
  })

  it.runIf(posix)(
    'FS-03: a symlink to a victim is refused and the victim is unchanged',
    async () => {
      const dir = await makeTempDir()
      const victim = join(dir, 'victim.txt')
      const target = join(dir, 'accounts.json')
      await writeFile(victim, 'precious victim bytes', { mode: 0o644 })
      const before = await sha256(victim)
      await symlink(victim, target)
      await expectUnsafe(writeSecretFile(target, 'attacker data'), 'symbolic link')
      expect(await sha256(victim)).toBe(before)
      expect(await mode(victim)).toBe(0o644)
      expect((await lstat(target)).isSymbolicLink()).toBe(true)
      expect(await leftovers(dir, 'accounts.json')).toEqual([])
    },
  )

  it.runIf(posix)(
    'FS-04: a symlink to /dev/null is refused without hanging',
    async () => {
      const dir = await makeTempDir()
      const target = join(dir, 'server-info.json')
      await symlink('/dev/null', target)
      await expectUnsafe(writeSecretFile(target, '{}'), 'symbolic link')
    },
    2_000,
  )

  it.runIf(posix)(
    'FS-04: a FIFO at the target is refused without hanging',
    async () => {
      const dir = await makeTempDir()
      const target = join(dir, 'server-info.json')
      execFileSync('mkfifo', [target])
      await expectUnsafe(writeSecretFile(target, '{}'), 'FIFO')
      expect((await lstat(target)).isFIFO()).toBe(true)
    },
    2_000,
  )

  it.runIf(posix)('FS-05: a hard link to a victim leaves the victim unchanged', async () => {
    const dir = await makeTempDir()
    const victim = join(dir, 'victim.txt')
    const target = join(dir, 'accounts.json')
    await writeFile(victim, 'victim content', { mode: 0o600 })
    await link(victim, target)
    const before = await sha256(victim)
    await writeSecretFile(target, 'fresh credentials')
    expect(await sha256(victim)).toBe(before)
    expect(await readFile(target, 'utf8')).toBe('fresh credentials')
    expect((await stat(target)).ino).not.toBe((await stat(victim)).ino)
  })

  it('FS-06: a directory at the target is refused and not deleted', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    await mkdir(target)
    await writeFile(join(target, 'inner.txt'), 'keep me')
    await expectUnsafe(writeSecretFile(target, 'data'), 'is a directory')
    expect(await readFile(join(target, 'inner.txt'), 'utf8')).toBe('keep me')
    expect(await leftovers(dir, 'accounts.json')).toEqual([])
  })

  it('the refusal names the path and what to do', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    await mkdir(target)
    await expectUnsafe(writeSecretFile(target, 'data'), target)
    await expectUnsafe(writeSecretFile(target, 'data'), 'mv ')
  })

  it('FS-09: stale temp files of the target are removed; fresh ones and others are kept', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    const stale = join(dir, '.accounts.json.0123abcd.tmp')
    const fresh = join(dir, '.accounts.json.89abcdef.tmp')
    const unrelated = join(dir, '.quota.json.0123abcd.tmp')
    for (const path of [stale, fresh, unrelated]) await writeFile(path, 'partial')
    const old = new Date(Date.now() - 5 * 60_000)
    await utimes(stale, old, old)
    await utimes(unrelated, old, old)
    await writeSecretFile(target, 'data')
    const names = await readdir(dir)
    expect(names).not.toContain('.accounts.json.0123abcd.tmp')
    expect(names).toContain('.accounts.json.89abcdef.tmp')
    expect(names).toContain('.quota.json.0123abcd.tmp')
    expect(await readFile(target, 'utf8')).toBe('data')
  })

  it.runIf(posix)(
    'calls the system in the order open(EXCL|NOFOLLOW, 0600) → write → fsync → rename → fsync(dir)',
    async () => {
      const dir = await makeTempDir()
      const { fs, calls } = recordingFs()
      await writeSecretFile(join(dir, 'accounts.json'), 'data', { fs })
      expect(calls).toEqual([
        'open(tmp|CREAT|EXCL|NOFOLLOW,600)',
        'fchmod(tmp,600)',
        'write(tmp)',
        'fsync(tmp)',
        'close(tmp)',
        'rename',
        'open(dir,-)',
        'fsync(dir)',
        'close(dir)',
      ])
    },
  )

  for (const failOn of ['write(tmp)', 'fsync(tmp)', 'rename']) {
    it(`a failure at ${failOn} keeps the old content and leaves no temp file`, async () => {
      const dir = await makeTempDir()
      const target = join(dir, 'accounts.json')
      await writeSecretFile(target, 'old content')
      const { fs } = recordingFs(failOn)
      await expect(writeSecretFile(target, 'new content', { fs })).rejects.toMatchObject({
        code: 'EIO',
      })
      expect(await readFile(target, 'utf8')).toBe('old content')
      expect(await leftovers(dir, 'accounts.json')).toEqual([])
    })
  }

  it('ENOSPC during the write is surfaced and leaves the old file intact (FS-10 by shim)', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    await writeSecretFile(target, 'old content')
    const fs: SafeFs = {
      ...nodeFs,
      open: async (path, flags, openMode) => {
        const handle = await nodeFs.open(path, flags, openMode)
        return {
          chmod: (m) => handle.chmod(m),
          sync: () => handle.sync(),
          stat: () => handle.stat(),
          read: (b, o, l, p) => handle.read(b, o, l, p),
          close: () => handle.close(),
          writeFile: async (data) => {
            await handle.writeFile(typeof data === 'string' ? data.slice(0, 3) : data)
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
          },
        }
      },
    }
    await expect(writeSecretFile(target, 'new content', { fs })).rejects.toMatchObject({
      code: 'ENOSPC',
    })
    expect(await readFile(target, 'utf8')).toBe('old content')
    expect(await leftovers(dir, 'accounts.json')).toEqual([])
  })

  it('concurrent writers each land atomically, leaving one complete version', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'accounts.json')
    const versions = Array.from({ length: 8 }, (_, i) =>
      JSON.stringify({ v: i, pad: 'x'.repeat(4096) }),
    )
    await Promise.all(versions.map((data) => writeSecretFile(target, data)))
    expect(versions).toContain(await readFile(target, 'utf8'))
    expect(await leftovers(dir, 'accounts.json')).toEqual([])
  })
})
