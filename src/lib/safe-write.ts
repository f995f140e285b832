/**
 * Crash-safe, symlink-proof writes of secret files (credentials, server-info, capability tokens),
 * following SECURITY.md C5.6 and FS-01…FS-09. The target is first checked with `lstat`: anything
 * but a regular file (a symbolic link, a directory, a FIFO, a device, a socket) is refused with
 * `ERR_UNSAFE_FILE` and left untouched. The data goes to a fresh temp file in the same directory,
 * `.<base>.<random>.tmp`, opened `O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY` with mode 0600 and then
 * `fchmod`ed to 0600 (the umask cannot loosen it and the old file's mode is never inherited); it
 * is written in full, `fsync`ed, closed, renamed onto the target (which replaces the directory
 * entry, so a hard link elsewhere keeps its old bytes), and finally the directory is `fsync`ed so
 * the rename itself survives a crash. On any failure before the rename the temp file is removed
 * and the old target is intact. Temp files of this target left by a crash and older than a minute
 * are removed first (FS-09).
 */
import { randomBytes } from 'node:crypto'
import { basename, dirname, resolve } from 'node:path'
import { BrokerError } from './errors.js'
import { hasErrnoCode } from './errno.js'
import { describeFileType } from './file-mode.js'
import { type SafeFileHandle, type SafeFs, nodeFs, openFlag } from './fs-shim.js'
import { quoteForShell } from './shell-quote.js'

/** The mode every secret file gets. */
export const SECRET_FILE_MODE = 0o600

/** Temp files of a target older than this (milliseconds) are considered stale (FS-09). */
export const STALE_TEMP_MS = 60_000

/** Flags for the temp file: create, must not exist, never follow a link, write only. */
export const TEMP_OPEN_FLAGS =
  openFlag('O_CREAT') | openFlag('O_EXCL') | openFlag('O_WRONLY') | openFlag('O_NOFOLLOW')

const DIRECTORY_OPEN_FLAGS = openFlag('O_RDONLY') | openFlag('O_DIRECTORY')

/** Options for {@link writeSecretFile}. */
export interface WriteSecretFileOptions {
  /** The file-system implementation (a test shim); default `nodeFs`. */
  readonly fs?: SafeFs
  /** The current time in epoch milliseconds, for the stale-temp rule; default `Date.now`. */
  readonly now?: () => number
  /** Age after which a leftover temp file is removed; default {@link STALE_TEMP_MS}. */
  readonly staleTempMs?: number
  /** Platform, to skip the directory fsync on Windows; default `process.platform`. */
  readonly platform?: NodeJS.Platform
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The pattern of this module's temp-file names for a target base name.
 *
 * @example
 * tempNamePattern('accounts.json').test('.accounts.json.3fa9c2d1e0b4.tmp') // true
 */
export function tempNamePattern(base: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(base)}\\.[0-9a-f]+\\.tmp$`)
}

async function assertReplaceable(fs: SafeFs, target: string): Promise<void> {
  let stat
  try {
    stat = await fs.lstat(target)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return
    throw error
  }
  if (stat.isFile()) return
  const quoted = quoteForShell(target)
  const kind = describeFileType(stat)
  const fix = stat.isDirectory()
    ? `Move it out of the way (mv ${quoted} ${quoteForShell(`${target}.bak`)}) and try again.`
    : `Remove it (rm ${quoted}) after checking what it is, and try again.`
  throw new BrokerError(
    'ERR_UNSAFE_FILE',
    `Refusing to write ${target}: it is ${kind}, not a regular file. ${fix}`,
    { hint: fix },
  )
}

async function removeStaleTemps(
  fs: SafeFs,
  directory: string,
  base: string,
  cutoff: number,
): Promise<void> {
  let names: string[]
  try {
    names = await fs.readdir(directory)
  } catch {
    return
  }
  const pattern = tempNamePattern(base)
  for (const name of names) {
    if (!pattern.test(name)) continue
    const path = resolve(directory, name)
    try {
      const stat = await fs.lstat(path)
      if (!stat.isDirectory() && stat.mtimeMs < cutoff) await fs.unlink(path)
    } catch {
      // Best effort: another writer may have renamed or removed it meanwhile.
    }
  }
}

async function closeQuietly(handle: SafeFileHandle | undefined): Promise<void> {
  try {
    await handle?.close()
  } catch {
    // The write already failed; the original error is the one to report.
  }
}

async function syncDirectory(fs: SafeFs, directory: string): Promise<void> {
  let handle: SafeFileHandle | undefined
  try {
    handle = await fs.open(directory, DIRECTORY_OPEN_FLAGS)
    await handle.sync()
  } catch (error) {
    // Some file systems cannot fsync a directory; the rename is done, only EIO-like errors matter.
    if (!hasErrnoCode(error, 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM', 'EACCES')) {
      throw error
    }
  } finally {
    await closeQuietly(handle)
  }
}

/**
 * Atomically replaces (or creates) `path` with `data`, mode 0600, never following a symlink
 * (protocol in the module comment).
 *
 * @throws {BrokerError} `ERR_UNSAFE_FILE` when `path` exists and is not a regular file; otherwise
 * the underlying system error (`ENOSPC`, `EROFS`, …) with the old file intact.
 *
 * @example
 * await writeSecretFile(join(home, 'accounts.json'), JSON.stringify(store))
 */
export async function writeSecretFile(
  path: string,
  data: string | Uint8Array,
  options: WriteSecretFileOptions = {},
): Promise<void> {
  const fs = options.fs ?? nodeFs
  const now = options.now ?? Date.now
  const target = resolve(path)
  const directory = dirname(target)
  const base = basename(target)

  await assertReplaceable(fs, target)
  await removeStaleTemps(fs, directory, base, now() - (options.staleTempMs ?? STALE_TEMP_MS))

  const temp = resolve(directory, `.${base}.${randomBytes(8).toString('hex')}.tmp`)
  let handle: SafeFileHandle | undefined
  let created = false
  try {
    handle = await fs.open(temp, TEMP_OPEN_FLAGS, SECRET_FILE_MODE)
    created = true
    await handle.chmod(SECRET_FILE_MODE)
    await handle.writeFile(data)
    await handle.sync()
    const open = handle
    handle = undefined
    await open.close()
    await fs.rename(temp, target)
  } catch (error) {
    await closeQuietly(handle)
    // Only a temp file this call created is removed (never a colliding one of another writer).
    if (created) await fs.unlink(temp).catch(() => undefined)
    throw error
  }
  if ((options.platform ?? process.platform) !== 'win32') await syncDirectory(fs, directory)
}
