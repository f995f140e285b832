/**
 * Creates or vets the broker's private directory (the credential home), the OpenSSH
 * StrictModes analogue of SECURITY.md C5.7 and FS-07/FS-08. A missing directory is created with
 * mode 0700 (parents with the normal mode), then `chmod`ed to 0700 so the umask cannot change it.
 * An existing one must be a real directory (not a symbolic link), owned by the expected uid
 * (default: the process's effective uid) and not writable by group or others (mode & 0o022 —
 * so 0700 and 0755 pass, 0775 and 0777 do not; `strict: true` refuses any group/other bit,
 * mode & 0o077). Every existing ancestor is checked too: a symbolic link owned by another user,
 * a directory owned by another user (root excepted), or a directory writable by others without
 * the sticky bit (as /tmp has) would let someone else swap the directory, so they are refused.
 * Every refusal is `ERR_UNSAFE_HOME` with a message naming the path and the exact fix. On
 * Windows only the "real directory" rule applies.
 */
import { dirname, parse, resolve, sep } from 'node:path'
import { BrokerError } from './errors.js'
import { hasErrnoCode } from './errno.js'
import { describeFileType, formatMode } from './file-mode.js'
import { type SafeFileStat, type SafeFs, nodeFs } from './fs-shim.js'
import { quoteForShell } from './shell-quote.js'

/** The mode a private directory is created with. */
export const PRIVATE_DIR_MODE = 0o700

/** Options for {@link ensurePrivateDir}. */
export interface EnsurePrivateDirOptions {
  /** The file-system implementation (a test shim); default `nodeFs`. */
  readonly fs?: SafeFs
  /**
   * The uid that must own the directory; default `process.getuid()` (undefined on Windows).
   * `null` skips the ownership rules.
   */
  readonly uid?: number | null
  /** Also refuse group/other read and execute bits (mode & 0o077); default false. */
  readonly strict?: boolean
  /** Check every existing ancestor too (FS-08); default true. */
  readonly checkAncestors?: boolean
  /** Platform; default `process.platform`. */
  readonly platform?: NodeJS.Platform
}

/** What {@link ensurePrivateDir} did. */
export interface EnsuredPrivateDir {
  /** The absolute path. */
  readonly path: string
  /** True when this call created the directory. */
  readonly created: boolean
}

function refuse(path: string, problem: string, fix: string): BrokerError {
  return new BrokerError(
    'ERR_UNSAFE_HOME',
    `Refusing to use ${path} as a private directory: ${problem}. ${fix}`,
    { hint: fix },
  )
}

function ancestorsOf(path: string): string[] {
  const { root } = parse(path)
  const parts = path.slice(root.length).split(sep).filter(Boolean)
  const result = [root]
  for (let i = 1; i < parts.length; i++) result.push(root + parts.slice(0, i).join(sep))
  return result
}

async function lstatOrUndefined(fs: SafeFs, path: string): Promise<SafeFileStat | undefined> {
  try {
    return await fs.lstat(path)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return undefined
    throw error
  }
}

async function checkAncestors(fs: SafeFs, path: string, uid: number | null): Promise<void> {
  const trusted = (owner: number) => uid === null || owner === 0 || owner === uid
  for (const ancestor of ancestorsOf(path)) {
    let stat = await lstatOrUndefined(fs, ancestor)
    if (stat === undefined) return
    const quoted = quoteForShell(ancestor)
    if (stat.isSymbolicLink()) {
      if (!trusted(stat.uid)) {
        throw refuse(
          path,
          `its parent ${ancestor} is a symbolic link owned by uid ${stat.uid}, another user, who could point it anywhere`,
          `Use a path whose components you or root own (check with ls -ld ${quoted}).`,
        )
      }
      try {
        stat = await fs.stat(ancestor)
      } catch (error) {
        if (hasErrnoCode(error, 'ENOENT')) return
        throw error
      }
    }
    if (!stat.isDirectory()) {
      throw refuse(
        path,
        `its parent ${ancestor} is ${describeFileType(stat)}`,
        'Choose a path inside a directory.',
      )
    }
    if (!trusted(stat.uid)) {
      throw refuse(
        path,
        `its parent ${ancestor} is owned by uid ${stat.uid}, another user, who could replace it`,
        'Choose a directory inside one you or root own.',
      )
    }
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) {
      throw refuse(
        path,
        `its parent ${ancestor} (mode ${formatMode(stat.mode)}) is writable by other users and has no sticky bit, so they could replace it`,
        `Fix it with: chmod go-w ${quoted}`,
      )
    }
  }
}

function checkDirectory(
  path: string,
  stat: SafeFileStat,
  uid: number | null,
  strict: boolean,
  windows: boolean,
): void {
  const quoted = quoteForShell(path)
  if (stat.isSymbolicLink()) {
    throw refuse(
      path,
      'it is a symbolic link',
      `Replace the link with a real directory (rm ${quoted} && mkdir -m 700 ${quoted}) or use another path.`,
    )
  }
  if (!stat.isDirectory()) {
    throw refuse(
      path,
      `it is ${describeFileType(stat)}, not a directory`,
      `Move it out of the way (mv ${quoted} ${quoteForShell(`${path}.bak`)}) or use another path.`,
    )
  }
  if (windows) return
  if (uid !== null && stat.uid !== uid) {
    throw refuse(
      path,
      `it is owned by uid ${stat.uid}, not by you (uid ${uid})`,
      `Fix it with: chown ${uid} ${quoted} (as root), or use another path.`,
    )
  }
  const forbidden = strict ? 0o077 : 0o022
  if ((stat.mode & forbidden) !== 0) {
    const who = strict ? 'accessible' : 'writable'
    throw refuse(
      path,
      `it has mode ${formatMode(stat.mode)}, ${who} by group or other users`,
      `Fix it with: chmod 700 ${quoted}`,
    )
  }
}

/**
 * Makes sure `path` is a private directory, creating it (0700) when missing.
 *
 * @throws {BrokerError} `ERR_UNSAFE_HOME` when the directory or an ancestor fails a rule.
 *
 * @example
 * const { path } = await ensurePrivateDir(homeFromCli)
 */
export async function ensurePrivateDir(
  path: string,
  options: EnsurePrivateDirOptions = {},
): Promise<EnsuredPrivateDir> {
  const fs = options.fs ?? nodeFs
  const windows = (options.platform ?? process.platform) === 'win32'
  const uid = options.uid === undefined ? (process.getuid?.() ?? null) : options.uid
  const target = resolve(path)

  if (!windows && options.checkAncestors !== false) await checkAncestors(fs, target, uid)

  let created = false
  if ((await lstatOrUndefined(fs, target)) === undefined) {
    await fs.mkdir(dirname(target), { recursive: true })
    try {
      await fs.mkdir(target, { mode: PRIVATE_DIR_MODE })
      created = true
    } catch (error) {
      if (!hasErrnoCode(error, 'EEXIST')) throw error
    }
    if (created && !windows) await fs.chmod(target, PRIVATE_DIR_MODE)
  }

  const stat = await fs.lstat(target)
  checkDirectory(target, stat, uid, options.strict === true, windows)
  return { path: target, created }
}
