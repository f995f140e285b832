import { execFileSync } from 'node:child_process'
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type BrokerErrorCode, isBrokerError } from '../../src/lib/errors.js'
import { assertPrivateFile } from '../../src/lib/safe-read.js'
import { makeTempDir } from './temp-dir.js'

const posix = process.platform !== 'win32'

async function refusal(promise: Promise<unknown>, code: BrokerErrorCode = 'ERR_UNSAFE_FILE') {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isBrokerError(error, code), String(error)).toBe(true)
  return error as Error
}

describe.runIf(posix)('assertPrivateFile', () => {
  it('returns the content of a 0600 file (positive control) and of a 0400 file', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'ws-token')
    await writeFile(file, 'capability-token\n', { mode: 0o600 })
    expect(await assertPrivateFile(file)).toBe('capability-token\n')
    const readOnly = join(dir, 'ro')
    await writeFile(readOnly, 'x', { mode: 0o400 })
    expect(await assertPrivateFile(readOnly)).toBe('x')
  })

  it('refuses a 0644 file with the chmod fix', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'ws-token')
    await writeFile(file, 'secret', { mode: 0o644 })
    const error = await refusal(assertPrivateFile(file))
    expect(error.message).toContain('mode 0644')
    expect(error.message).toContain(`chmod 600 ${file}`)
    expect(error.message).not.toContain('secret\n')
  })

  it('refuses a symlink, even to a private file', async () => {
    const dir = await makeTempDir()
    const real = join(dir, 'real')
    const link = join(dir, 'ws-token')
    await writeFile(real, 'secret', { mode: 0o600 })
    await symlink(real, link)
    const error = await refusal(assertPrivateFile(link))
    expect(error.message).toContain('symbolic link')
  })

  it('refuses a symlink to /dev/null and a FIFO without hanging', async () => {
    const dir = await makeTempDir()
    const link = join(dir, 'null-link')
    await symlink('/dev/null', link)
    await refusal(assertPrivateFile(link))
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', ['-m', '600', fifo])
    const error = await refusal(assertPrivateFile(fifo))
    expect(error.message).toContain('FIFO')
  }, 2_000)

  it('refuses a directory', async () => {
    const dir = await makeTempDir()
    const sub = join(dir, 'sub')
    await mkdir(sub, { mode: 0o700 })
    const error = await refusal(assertPrivateFile(sub))
    expect(error.message).toContain('a directory')
  })

  it('refuses an oversized file and accepts one at the limit', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'secret')
    await writeFile(file, 'x'.repeat(33), { mode: 0o600 })
    const error = await refusal(assertPrivateFile(file, { maxBytes: 32 }))
    expect(error.message).toContain('33 bytes')
    await writeFile(file, 'x'.repeat(32), { mode: 0o600 })
    expect(await assertPrivateFile(file, { maxBytes: 32 })).toHaveLength(32)
  })

  it('refuses a file owned by another uid', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'secret')
    await writeFile(file, 'x', { mode: 0o600 })
    const owner = (await stat(file)).uid
    const error = await refusal(assertPrivateFile(file, { uid: owner + 1 }))
    expect(error.message).toContain(`owned by uid ${owner}`)
  })

  it('reports a missing file as ERR_NOT_FOUND', async () => {
    const dir = await makeTempDir()
    const error = await refusal(assertPrivateFile(join(dir, 'absent')), 'ERR_NOT_FOUND')
    expect(error.message).toContain('does not exist')
  })
})
