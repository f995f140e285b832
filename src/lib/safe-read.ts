/**
 * Reads a secret file (a capability token, a JWT signing secret, a key file) only when it is
 * private, for SECURITY.md FS "read the capability token / JWT secret". The path must name a
 * regular file, not a symbolic link (checked with `lstat`, and again by opening with
 * `O_NOFOLLOW`); the open uses `O_NONBLOCK` so a FIFO cannot hang the caller; the checks that
 * matter are then made on the open descriptor (`fstat`), so the file cannot be swapped between
 * check and read: regular file, no group/other permission bits (mode & 0o077 === 0), owned by the
 * expected uid, and at most `maxBytes` long. Refusals are `ERR_UNSAFE_FILE`; a missing file is
 * `ERR_NOT_FOUND`. On Windows the mode and owner rules are skipped.
 */
import { resolve } from 'node:path'
import { BrokerError } from './errors.js'
import { hasErrnoCode } from './errno.js'
import { describeFileType, formatMode } from './file-mode.js'
import { type SafeFileHandle, type SafeFileStat, type SafeFs, nodeFs, openFlag } from './fs-shim.js'
import { quoteForShell } from './shell-quote.js'

/** The default size limit of a secret file (64 KiB). */
export const DEFAULT_SECRET_FILE_MAX_BYTES = 65_536

const READ_FLAGS = openFlag('O_RDONLY') | openFlag('O_NOFOLLOW') | openFlag('O_NONBLOCK')

/** Options for {@link assertPrivateFile}. */
export interface AssertPrivateFileOptions {
  /** Largest accepted size in bytes; default {@link DEFAULT_SECRET_FILE_MAX_BYTES}. */
  readonly maxBytes?: number
  /** The file-system implementation (a test shim); default `nodeFs`. */
  readonly fs?: SafeFs
  /** The uid that must own the file; default `process.getuid()`; `null` skips the rule. */
  readonly uid?: number | null
  /** Platform; default `process.platform`. */
  readonly platform?: NodeJS.Platform
}

function unsafe(path: string, problem: string, fix: string, cause?: unknown): BrokerError {
  return new BrokerError('ERR_UNSAFE_FILE', `Refusing to read ${path}: ${problem}. ${fix}`, {
    cause,
    hint: fix,
  })
}

function checkKind(path: string, stat: SafeFileStat): void {
  const quoted = quoteForShell(path)
  if (stat.isSymbolicLink()) {
    throw unsafe(
      path,
      'it is a symbolic link',
      `Point the option at the real file, or replace the link with a copy (chmod 600).`,
    )
  }
  if (!stat.isFile()) {
    throw unsafe(
      path,
      `it is ${describeFileType(stat)}, not a regular file`,
      `Use a regular file created with: umask 077 && cat > ${quoted}`,
    )
  }
}

function checkOpened(
  path: string,
  stat: SafeFileStat,
  maxBytes: number,
  uid: number | null,
  windows: boolean,
): void {
  checkKind(path, stat)
  const quoted = quoteForShell(path)
  if (!windows && uid !== null && stat.uid !== uid) {
    throw unsafe(
      path,
      `it is owned by uid ${stat.uid}, not by you (uid ${uid})`,
      `Fix it with: chown ${uid} ${quoted} (as root), or use your own copy.`,
    )
  }
  if (!windows && (stat.mode & 0o077) !== 0) {
    throw unsafe(
      path,
      `it has mode ${formatMode(stat.mode)}, so group or other users can access it`,
      `Fix it with: chmod 600 ${quoted}`,
    )
  }
  if (stat.size > maxBytes) {
    throw unsafe(
      path,
      `it is ${stat.size} bytes, more than the ${maxBytes}-byte limit for a secret file`,
      'Check that the option names the right file.',
    )
  }
}

/**
 * Reads at most `limit` bytes. The buffer starts at the size `fstat` reported (plus one byte, to notice growth)
 * rather than at the limit: the limit of a credential file is megabytes, and zero-filling that on every read
 * would dominate the cost of a refresh.
 */
async function readAtMost(
  handle: SafeFileHandle,
  limit: number,
  expectedSize: number,
): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(Math.min(limit, expectedSize + 1))
  let total = 0
  while (total < limit) {
    if (total === buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(limit, buffer.length * 2))
      buffer.copy(grown, 0, 0, total)
      buffer = grown
    }
    const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total)
    if (bytesRead === 0) break
    total += bytesRead
  }
  return buffer.subarray(0, total)
}

/**
 * Reads a private secret file as UTF-8 after checking it (rules in the module comment).
 *
 * @throws {BrokerError} `ERR_UNSAFE_FILE` when a rule fails, `ERR_NOT_FOUND` when it is missing.
 *
 * @example
 * const token = Secret.from((await assertPrivateFile(tokenFile, { maxBytes: 4096 })).trim())
 */
export async function assertPrivateFile(
  path: string,
  options: AssertPrivateFileOptions = {},
): Promise<string> {
  const text = await readPrivateFileIfPresent(path, options)
  if (text === null) {
    throw new BrokerError('ERR_NOT_FOUND', `Secret file ${resolve(path)} does not exist.`)
  }
  return text
}

/**
 * {@link assertPrivateFile} for a file that may not exist yet: null when it is missing, without building an error
 * (servers read the accounts file on every request, and a fresh home has none).
 *
 * @throws {BrokerError} `ERR_UNSAFE_FILE` when a rule fails.
 *
 * @example
 * const text = await readPrivateFileIfPresent(accountsFile, { maxBytes: 1 << 20 }) // null: no accounts yet
 */
export async function readPrivateFileIfPresent(
  path: string,
  options: AssertPrivateFileOptions = {},
): Promise<string | null> {
  const fs = options.fs ?? nodeFs
  const maxBytes = options.maxBytes ?? DEFAULT_SECRET_FILE_MAX_BYTES
  const windows = (options.platform ?? process.platform) === 'win32'
  const uid = options.uid === undefined ? (process.getuid?.() ?? null) : options.uid
  const target = resolve(path)

  let stat: SafeFileStat
  try {
    stat = await fs.lstat(target)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return null
    throw error
  }
  checkKind(target, stat)

  let handle: SafeFileHandle
  try {
    handle = await fs.open(target, READ_FLAGS)
  } catch (error) {
    if (hasErrnoCode(error, 'ELOOP', 'EMLINK')) {
      throw unsafe(target, 'it became a symbolic link', 'Check who else can write here.', error)
    }
    throw error
  }
  try {
    const stat = await handle.stat()
    checkOpened(target, stat, maxBytes, uid, windows)
    const bytes = await readAtMost(handle, maxBytes + 1, stat.size)
    if (bytes.length > maxBytes) {
      throw unsafe(
        target,
        `it is more than the ${maxBytes}-byte limit for a secret file`,
        'Check that the option names the right file.',
      )
    }
    return bytes.toString('utf8')
  } finally {
    await handle.close()
  }
}
