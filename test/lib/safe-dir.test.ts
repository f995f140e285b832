import { chmod, lchown, lstat, mkdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/errors.js'
import { ensurePrivateDir } from '../../src/lib/safe-dir.js'
import { isRoot, makeTempDir } from './temp-dir.js'

const posix = process.platform !== 'win32'
const mode = async (path: string) => (await stat(path)).mode & 0o7777

async function refusal(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isBrokerError(error, 'ERR_UNSAFE_HOME'), String(error)).toBe(true)
  return error as Error
}

describe.runIf(posix)('ensurePrivateDir', () => {
  it('creates a missing directory (and its parents) with mode 0700', async () => {
    const base = await makeTempDir()
    const home = join(base, 'nested', 'parents', '.codex-broker')
    const previous = process.umask(0o077)
    try {
      expect(await ensurePrivateDir(home)).toEqual({ path: home, created: true })
    } finally {
      process.umask(previous)
    }
    expect(await mode(home)).toBe(0o700)
    expect(await ensurePrivateDir(home)).toEqual({ path: home, created: false })
  })

  it('accepts an existing 0700 directory (positive control) and 0755 (not writable)', async () => {
    const base = await makeTempDir()
    const home = join(base, 'home')
    await mkdir(home, { mode: 0o700 })
    await expect(ensurePrivateDir(home)).resolves.toMatchObject({ created: false })
    await chmod(home, 0o755)
    await expect(ensurePrivateDir(home)).resolves.toMatchObject({ created: false })
    expect(await mode(home)).toBe(0o755)
  })

  for (const loose of [0o775, 0o777, 0o720, 0o702]) {
    it(`refuses a group/other-writable directory (mode ${loose.toString(8)}) with the chmod fix`, async () => {
      const base = await makeTempDir()
      const home = join(base, 'home')
      await mkdir(home)
      await chmod(home, loose)
      const error = await refusal(ensurePrivateDir(home))
      expect(error.message).toContain(`chmod 700 ${home}`)
      expect(error.message).toContain(`mode 0${loose.toString(8)}`)
      expect(await mode(home)).toBe(loose)
    })
  }

  it('strict mode also refuses group/other read access (0755)', async () => {
    const base = await makeTempDir()
    const home = join(base, 'home')
    await mkdir(home)
    await chmod(home, 0o755)
    const error = await refusal(ensurePrivateDir(home, { strict: true }))
    expect(error.message).toContain('chmod 700')
    await chmod(home, 0o700)
    await expect(ensurePrivateDir(home, { strict: true })).resolves.toBeDefined()
  })

  it('refuses a symlinked directory, even one pointing at a private directory', async () => {
    const base = await makeTempDir()
    const real = join(base, 'real')
    const home = join(base, 'home')
    await mkdir(real, { mode: 0o700 })
    await symlink(real, home)
    const error = await refusal(ensurePrivateDir(home))
    expect(error.message).toContain('symbolic link')
    expect((await lstat(home)).isSymbolicLink()).toBe(true)
  })

  it('refuses a regular file at the path', async () => {
    const base = await makeTempDir()
    const home = join(base, 'home')
    await writeFile(home, 'not a dir')
    const error = await refusal(ensurePrivateDir(home))
    expect(error.message).toContain('a regular file')
  })

  it('refuses a directory owned by another uid, with the chown fix', async () => {
    const base = await makeTempDir()
    const home = join(base, 'home')
    await mkdir(home, { mode: 0o700 })
    const owner = (await stat(home)).uid
    const error = await refusal(ensurePrivateDir(home, { uid: owner + 4242 }))
    expect(error.message).toContain(`owned by uid ${owner}`)
    expect(error.message).toContain(`chown ${owner + 4242} ${home}`)
    await expect(ensurePrivateDir(home, { uid: owner })).resolves.toBeDefined()
    await expect(ensurePrivateDir(home, { uid: null })).resolves.toBeDefined()
  })

  it('refuses a parent writable by others without the sticky bit', async () => {
    const base = await makeTempDir()
    const shared = join(base, 'shared')
    await mkdir(shared)
    await chmod(shared, 0o777)
    const error = await refusal(ensurePrivateDir(join(shared, 'home')))
    expect(error.message).toContain(shared)
    expect(error.message).toContain('chmod go-w')
    await chmod(shared, 0o1777)
    await expect(ensurePrivateDir(join(shared, 'home'))).resolves.toMatchObject({ created: true })
  })

  it.runIf(isRoot)('FS-08: refuses a parent symlink owned by another user', async () => {
    const base = await makeTempDir()
    const real = join(base, 'real')
    const link = join(base, 'link')
    await mkdir(real, { mode: 0o755 })
    await symlink(real, link)
    await lchown(link, 4242, 4242)
    const error = await refusal(ensurePrivateDir(join(link, 'home')))
    expect(error.message).toContain('symbolic link owned by uid 4242')
    await lchown(link, 0, 0)
    await expect(ensurePrivateDir(join(link, 'home'))).resolves.toMatchObject({ created: true })
  })

  it.runIf(isRoot)('refuses a parent directory owned by another user', async () => {
    const base = await makeTempDir()
    const theirs = join(base, 'theirs')
    await mkdir(theirs, { mode: 0o755 })
    await lchown(theirs, 4242, 4242)
    const error = await refusal(ensurePrivateDir(join(theirs, 'home')))
    expect(error.message).toContain('owned by uid 4242')
  })
})
