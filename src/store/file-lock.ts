/**
 * A cross-process exclusive lock on a path (DESIGN.md "Refresh", step 3; SECURITY.md C5.3): the lock is a small
 * file created with `O_CREAT|O_EXCL|O_NOFOLLOW` mode 0600 and holding `{pid, hostname, acquiredAt, token}`.
 * Creation succeeds for exactly one process; the others retry with a small jittered backoff until `timeoutMs`,
 * then fail with `ERR_LOCK_TIMEOUT` naming the lock and its holder. Release compares the token and only then
 * unlinks, so a holder whose lock was taken over never deletes its successor's lock.
 *
 * Stale locks: a lock is stale when its holder's pid is dead on this host (`kill(pid, 0)` → `ESRCH`), or when it is
 * older than `staleMs` (default 60 s; this also covers a pid reused after a reboot and holders on other hosts). So
 * critical sections must stay well under `staleMs` — the token manager's refresh (one HTTP request with a timeout)
 * does. A lock file whose content cannot be read as a lock (a holder that died between creating and writing it) is
 * judged by its modification time. Recovery is serialised by a second lock, `<path>.recover` (held for a few
 * system calls): under it the lock is read again and unlinked only if it is still the very lock judged stale (same
 * token, or for an unreadable one the same inode and mtime), so two recoverers never both win and a fresh lock is
 * never removed. A `.recover` file left by a recoverer that crashed is removed after `RECOVER_STALE_MS`.
 */
import { randomBytes } from 'node:crypto'
import { link, open, unlink } from 'node:fs/promises'
import { hostname as osHostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import {
  BrokerError,
  type Clock,
  ensurePrivateDir,
  hasErrnoCode,
  openFlag,
  systemClock,
} from '../lib/index.js'

/** How long {@link acquireFileLock} waits by default (30 s). */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000

/** Age after which a lock is stale whatever its holder (60 s). */
export const DEFAULT_LOCK_STALE_MS = 60_000

/** Age after which a recovery guard (`<lock>.recover`) is stale (5 s; it is held for a few system calls). */
export const RECOVER_STALE_MS = 5_000

const CREATE_FLAGS =
  openFlag('O_CREAT') | openFlag('O_EXCL') | openFlag('O_WRONLY') | openFlag('O_NOFOLLOW')
const READ_FLAGS = openFlag('O_RDONLY') | openFlag('O_NOFOLLOW') | openFlag('O_NONBLOCK')
const MAX_LOCK_BYTES = 4096
const FIRST_BACKOFF_MS = 4
const MAX_BACKOFF_MS = 100

/** What a lock file says about its holder. */
export interface FileLockHolder {
  readonly pid: number
  readonly hostname: string
  /** Unix milliseconds. */
  readonly acquiredAt: number
  readonly token: string
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** Give up with `ERR_LOCK_TIMEOUT` after this long; default {@link DEFAULT_LOCK_TIMEOUT_MS}; 0 tries once. */
  readonly timeoutMs?: number
  /** Age after which any lock is stale; default {@link DEFAULT_LOCK_STALE_MS}. */
  readonly staleMs?: number
  /** Time and sleeps; default the system clock. */
  readonly clock?: Clock
  /** What the error message calls the lock, e.g. `the refresh lock of account acc-1`; default its path. */
  readonly description?: string
  /** Liveness check of a pid on this host; default {@link isProcessAlive}. */
  readonly isProcessAlive?: (pid: number) => boolean
  /** This host's name; default `os.hostname()`. */
  readonly hostname?: string
}

/** A held lock. */
export interface FileLock {
  /** The lock file's absolute path. */
  readonly path: string
  /** This holder's random token. */
  readonly token: string
  /**
   * Releases the lock: unlinks the file if it still carries this holder's token. Answers false when the lock had
   * been taken over (the critical section outlived `staleMs`) or was already released.
   */
  release(): Promise<boolean>
}

/**
 * Whether a process with this pid exists on this host (`kill(pid, 0)`; `EPERM` means it exists).
 *
 * @example
 * isProcessAlive(process.pid) // true
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return !hasErrnoCode(error, 'ESRCH')
  }
}

interface Observed {
  readonly holder: FileLockHolder | null
  readonly ino: number
  readonly mtimeMs: number
}

interface Context {
  readonly clock: Clock
  readonly staleMs: number
  readonly host: string
  readonly alive: (pid: number) => boolean
}

function parseHolder(text: string): FileLockHolder | null {
  let json: unknown
  try {
    json = JSON.parse(text) as unknown
  } catch {
    return null
  }
  if (typeof json !== 'object' || json === null) return null
  const pid: unknown = Reflect.get(json, 'pid')
  const host: unknown = Reflect.get(json, 'hostname')
  const acquiredAt: unknown = Reflect.get(json, 'acquiredAt')
  const token: unknown = Reflect.get(json, 'token')
  if (typeof pid !== 'number' || typeof host !== 'string' || typeof token !== 'string') return null
  if (typeof acquiredAt !== 'string' || Number.isNaN(Date.parse(acquiredAt))) return null
  return { pid, hostname: host, acquiredAt: Date.parse(acquiredAt), token }
}

function unsafeLockPath(path: string, cause: unknown): BrokerError {
  const fix = `Remove it (rm ${path}) after checking what it is.`
  return new BrokerError(
    'ERR_UNSAFE_FILE',
    `Refusing to use the lock file ${path}: it is not a regular file (a symbolic link?). ${fix}`,
    { cause, hint: fix },
  )
}

/** Reads a lock file without following links; null when it does not exist. */
async function observe(path: string): Promise<Observed | null> {
  let handle
  try {
    handle = await open(path, READ_FLAGS)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return null
    if (hasErrnoCode(error, 'ELOOP', 'EMLINK')) throw unsafeLockPath(path, error)
    throw error
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw unsafeLockPath(path, undefined)
    const buffer = Buffer.alloc(MAX_LOCK_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, MAX_LOCK_BYTES, 0)
    return {
      holder: parseHolder(buffer.subarray(0, bytesRead).toString('utf8')),
      ino: stat.ino,
      mtimeMs: stat.mtimeMs,
    }
  } finally {
    await handle.close()
  }
}

/**
 * Creates the lock file with its holder already in it; answers false when it already exists. The holder is written
 * to a private temporary file first, which is then hard-linked to the lock path (`link` fails with EEXIST when the
 * lock exists): a process killed at any point never leaves an empty lock file behind, which others could only
 * recognise as abandoned after the whole stale time. Where hard links are not supported, the lock file is created
 * exclusively and written in place.
 */
async function tryCreate(path: string, holder: FileLockHolder): Promise<boolean> {
  const content = JSON.stringify({
    pid: holder.pid,
    hostname: holder.hostname,
    acquiredAt: new Date(holder.acquiredAt).toISOString(),
    token: holder.token,
  })
  const temp = `${path}.${holder.token}.tmp`
  await writeExclusive(temp, content)
  try {
    await link(temp, path)
    return true
  } catch (error) {
    if (hasErrnoCode(error, 'EEXIST')) return false
    if (!hasErrnoCode(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS')) throw error
  } finally {
    await unlink(temp).catch(() => undefined)
  }
  try {
    await writeExclusive(path, content)
    return true
  } catch (error) {
    if (hasErrnoCode(error, 'EEXIST')) return false
    throw error
  }
}

/** Creates `path` (0600, never through a link) holding `content`; removes it again if the write fails. */
async function writeExclusive(path: string, content: string): Promise<void> {
  const handle = await open(path, CREATE_FLAGS, 0o600)
  try {
    await handle.writeFile(content)
  } catch (error) {
    await handle.close().catch(() => undefined)
    await unlink(path).catch(() => undefined)
    throw error
  }
  await handle.close()
}

function isStale(observed: Observed, context: Context, staleMs: number): boolean {
  const now = context.clock.now()
  const { holder } = observed
  if (holder === null) return now - observed.mtimeMs > staleMs
  if (holder.hostname === context.host && !context.alive(holder.pid)) return true
  return now - holder.acquiredAt > staleMs
}

function sameLock(a: Observed, b: Observed): boolean {
  if (a.holder !== null || b.holder !== null) return a.holder?.token === b.holder?.token
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs
}

async function unlinkIfSame(path: string, expected: Observed): Promise<boolean> {
  const current = await observe(path)
  if (current === null || !sameLock(current, expected)) return false
  try {
    await unlink(path)
    return true
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return false
    throw error
  }
}

function newHolder(context: Context): FileLockHolder {
  return {
    pid: process.pid,
    hostname: context.host,
    acquiredAt: context.clock.now(),
    token: randomBytes(16).toString('hex'),
  }
}

/**
 * Removes `stale` from `path` if it is still there, serialised by the `.recover` guard. Answers whether the caller
 * should retry at once (false: another recoverer is at work, wait a little).
 */
async function recover(path: string, stale: Observed, context: Context): Promise<boolean> {
  const guardPath = `${path}.recover`
  const guard = newHolder(context)
  if (!(await tryCreate(guardPath, guard))) {
    const other = await observe(guardPath)
    if (other !== null && isStale(other, context, RECOVER_STALE_MS)) {
      return unlinkIfSame(guardPath, other)
    }
    return false
  }
  try {
    await unlinkIfSame(path, stale)
    return true
  } finally {
    const mine = await observe(guardPath).catch(() => null)
    if (mine?.holder?.token === guard.token) await unlink(guardPath).catch(() => undefined)
  }
}

function describeHolder(observed: Observed | null): string {
  if (observed === null) return 'its holder just released it'
  const { holder } = observed
  if (holder === null) return 'its holder is unknown (the lock file is unreadable)'
  return `held by pid ${holder.pid} on ${holder.hostname} since ${new Date(holder.acquiredAt).toISOString()}`
}

function backoff(attempt: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt)
  return ceiling / 2 + Math.random() * (ceiling / 2)
}

/**
 * Takes the lock at `path` (rules in the module comment), creating its directory (0700) if missing.
 *
 * @throws {BrokerError} `ERR_LOCK_TIMEOUT` when still held by a live holder after `timeoutMs`;
 * `ERR_UNSAFE_FILE` when `path` is a symbolic link or not a regular file.
 * @example
 * const lock = await acquireFileLock(join(home, 'locks', 'store.lock'), { timeoutMs: 10_000 })
 * try { await rewrite() } finally { await lock.release() }
 */
export async function acquireFileLock(
  path: string,
  options: FileLockOptions = {},
): Promise<FileLock> {
  const target = resolve(path)
  const context: Context = {
    clock: options.clock ?? systemClock,
    staleMs: options.staleMs ?? DEFAULT_LOCK_STALE_MS,
    host: options.hostname ?? osHostname(),
    alive: options.isProcessAlive ?? isProcessAlive,
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const deadline = context.clock.now() + timeoutMs
  let madeDirectory = false
  for (let attempt = 0; ; attempt++) {
    const holder = newHolder(context)
    let created: boolean
    try {
      created = await tryCreate(target, holder)
    } catch (error) {
      if (!hasErrnoCode(error, 'ENOENT') || madeDirectory) throw error
      await ensurePrivateDir(dirname(target))
      madeDirectory = true
      continue
    }
    if (created) return heldLock(target, holder.token)

    const current = await observe(target)
    if (current === null) continue
    if (isStale(current, context, context.staleMs) && (await recover(target, current, context))) {
      continue
    }
    const remaining = deadline - context.clock.now()
    if (remaining <= 0) {
      const what = options.description ?? `the lock ${target}`
      const hint = `Another codex-broker process is working with it; try again. If none is running, remove the lock file: rm ${target}`
      throw new BrokerError(
        'ERR_LOCK_TIMEOUT',
        `Timed out after ${timeoutMs} ms waiting for ${what} (${describeHolder(current)}). ${hint}`,
        { hint },
      )
    }
    await context.clock.sleep(Math.min(remaining, backoff(attempt)))
  }
}

function heldLock(path: string, token: string): FileLock {
  let released = false
  return {
    path,
    token,
    release: async () => {
      if (released) return false
      released = true
      const current = await observe(path)
      if (current?.holder?.token !== token) return false
      try {
        await unlink(path)
        return true
      } catch (error) {
        if (hasErrnoCode(error, 'ENOENT')) return false
        throw error
      }
    },
  }
}

/**
 * Runs `task` holding the lock at `path`, releasing it afterwards (also when `task` throws).
 *
 * @example
 * await withFileLock(join(home, 'locks', 'store.lock'), () => rewriteAccounts(), { timeoutMs: 10_000 })
 */
export async function withFileLock<T>(
  path: string,
  task: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = await acquireFileLock(path, options)
  try {
    return await task()
  } finally {
    await lock.release()
  }
}

/**
 * Reads who holds the lock at `path`, or null when it is free (or its content is unreadable).
 *
 * @example
 * const holder = await readFileLockHolder(lockPath) // { pid: 4242, hostname: 'box', … }
 */
export async function readFileLockHolder(path: string): Promise<FileLockHolder | null> {
  return (await observe(resolve(path)))?.holder ?? null
}
