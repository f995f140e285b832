/**
 * `FilePoolStateStore`: the pool's health records in `<home>/quota.json` (DESIGN.md "The account pool", "Credentials
 * at rest"), shared by every process on one home — two proxies see the same cooldowns and quota. The file holds
 * no secret, but it is treated like one: written only through `writeSecretFile` (0600, atomic, never through a
 * link), read only through `assertPrivateFile` (a symbolic link or a file others can read is refused with
 * `ERR_UNSAFE_FILE`), in a home made private by `ensurePrivateDir`. Because it is only a cache of health, a file
 * that cannot be used (bad JSON, the wrong shape, a future version, too large, unreadable) is not fatal: a warning
 * names the file (never its content), it counts as empty, and the next write replaces it. Every number is
 * validated (finite, ≥ 0) so a tampered file cannot produce NaN cooldowns; a bad record is dropped alone.
 *
 * Writes are read-modify-write of the whole file under the cross-process lock `locks/quota.lock` (file-lock.ts)
 * behind an in-process queue, so concurrent writers never lose each other's changes. Quota readings arrive with
 * every answer, thousands per second under load, so they must be cheap: a non-urgent update is applied to this
 * process's view at once and its change function queued; one flush `flushDelayMs` later re-reads the file under
 * the lock, replays the queued changes in order and writes once. An urgent update (cooldowns, circuit changes)
 * flushes the queue in the same locked write and resolves after it. Reads answer from memory while the view is
 * younger than `cacheMs`; after that one `lstat` decides whether the file changed (inode, size, mtime, ctime).
 * Queued changes are replayed on top of every fresh read, so this process keeps seeing its own pending changes.
 * Change functions may therefore run more than once and must be pure.
 */
import { lstat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { BrokerError, isBrokerError } from '../lib/errors.js'
import { hasErrnoCode } from '../lib/errno.js'
import type { Logger } from '../lib/logger.js'
import { ensurePrivateDir } from '../lib/safe-dir.js'
import { assertPrivateFile } from '../lib/safe-read.js'
import { writeSecretFile } from '../lib/safe-write.js'
import { withFileLock } from '../store/file-lock.js'
import { LOCKS_DIR_NAME } from '../store/file-credential-store.js'
import { emptyHealth } from './health.js'
import type { AccountHealth, PoolStateStore } from './types.js'

/** The health file's name inside the home. */
export const QUOTA_FILE_NAME = 'quota.json'

/** The health file's write lock inside `locks/` (named like the credential store's `store.lock`). */
export const QUOTA_LOCK_FILE_NAME = 'quota.lock'

/** The format version this module reads and writes. */
export const QUOTA_FILE_VERSION = 1

/** A larger `quota.json` is ignored as corrupt (4 MiB: thousands of accounts). */
export const MAX_QUOTA_FILE_BYTES = 4 * 1024 * 1024

/** How long non-urgent updates are batched by default (1 s). */
export const DEFAULT_POOL_FLUSH_DELAY_MS = 1_000

/** How long a read may answer from memory by default (250 ms). */
export const DEFAULT_POOL_CACHE_MS = 250

/** Queued changes kept at most while flushes fail; the oldest are dropped beyond it. */
export const MAX_PENDING_CHANGES = 10_000

const time = z.number().nonnegative()
const quotaWindowSchema = z.object({
  usedPercent: z.number().nonnegative(),
  windowMinutes: z.number().nonnegative().nullable(),
  resetsAt: time.nullable(),
})

/** The shape of one `AccountHealth` record at rest (zod 4 numbers are finite; all are ≥ 0). */
export const accountHealthSchema = z.object({
  accountId: z.string().min(1).max(512),
  quota: z
    .object({
      primary: quotaWindowSchema.nullable(),
      secondary: quotaWindowSchema.nullable(),
      credits: z
        .object({
          hasCredits: z.boolean(),
          unlimited: z.boolean(),
          balance: z.string().max(64).nullable(),
        })
        .nullable(),
      observedAt: time,
    })
    .nullable(),
  cooldownUntil: time.nullable(),
  cooldownReason: z.enum(['usage_limit', 'quota_exhausted']).nullable(),
  consecutiveFailures: z.number().int().nonnegative(),
  circuitOpenedAt: time.nullable(),
  circuitOpenUntil: time.nullable(),
  lastSuccessAt: time.nullable(),
  lastFailureAt: time.nullable(),
  updatedAt: time,
}) satisfies z.ZodType<AccountHealth>

const envelopeSchema = z.object({
  version: z.number(),
  pinned: z.string().nullable(),
  accounts: z.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  ),
})

/**
 * Parses one stored record, or null when it is not a valid `AccountHealth` for `accountId`.
 *
 * @example
 * parseAccountHealth('acc-1', JSON.parse(raw)) // AccountHealth | null
 */
export function parseAccountHealth(accountId: string, value: unknown): AccountHealth | null {
  const parsed = accountHealthSchema.safeParse(value)
  return parsed.success && parsed.data.accountId === accountId ? parsed.data : null
}

/**
 * Checks what a change function returned before it is stored: the same account, and a record that would read back
 * (no NaN, no negative time).
 *
 * @throws {BrokerError} `ERR_INTERNAL` naming the first bad field.
 * @example
 * const next = checkedHealth(id, change(current))
 */
export function checkedHealth(accountId: string, record: AccountHealth): AccountHealth {
  const parsed = accountHealthSchema.safeParse(record)
  if (parsed.success && parsed.data.accountId === accountId) return parsed.data
  const where = parsed.success ? 'accountId' : (parsed.error.issues[0]?.path.join('.') ?? '?')
  throw new BrokerError(
    'ERR_INTERNAL',
    `A pool health change for account ${accountId} produced an invalid record (field ${where}).`,
  )
}

/** Options of {@link FilePoolStateStore}. */
export interface FilePoolStateStoreOptions {
  /** The broker's home directory (created 0700 if missing). */
  readonly home: string
  /** The `updatedAt` of fresh records; default `Date.now`. */
  readonly now?: () => number
  /** How long non-urgent updates are batched; default {@link DEFAULT_POOL_FLUSH_DELAY_MS}. */
  readonly flushDelayMs?: number
  /** How long reads answer from memory; default {@link DEFAULT_POOL_CACHE_MS}. */
  readonly cacheMs?: number
  /** Where warnings about an unusable file or a failed flush go; default nowhere. */
  readonly logger?: Pick<Logger, 'warn'>
}

interface Stamp {
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  readonly ctimeMs: number
}

interface FileState {
  readonly accounts: ReadonlyMap<string, AccountHealth>
  readonly pinned: string | null
  /** The file as last seen, or null when missing. */
  readonly stamp: Stamp | null
}

interface PendingChange {
  readonly accountId: string
  readonly change: (current: AccountHealth) => AccountHealth
}

function sameStamp(a: Stamp | null, b: Stamp | null): boolean {
  if (a === null || b === null) return a === b
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs
}

function monotonicNow(): number {
  return performance.now()
}

/**
 * Pool health in `<home>/quota.json`, shared between processes.
 *
 * @example
 * const state = new FilePoolStateStore({ home: '/home/me/.codex-broker', logger })
 * await state.update(id, (h) => ({ ...h, quota, updatedAt: Date.now() })) // batched
 * await state.update(id, (h) => ({ ...h, cooldownUntil: resetsAt }), { urgent: true }) // written now
 * await state.close()
 */
export class FilePoolStateStore implements PoolStateStore {
  /** The home directory (absolute). */
  readonly home: string
  /** The health file (absolute). */
  readonly path: string
  /** The write lock (absolute). */
  readonly lockPath: string

  readonly #now: () => number
  readonly #flushDelayMs: number
  readonly #cacheMs: number
  readonly #logger: Pick<Logger, 'warn'> | undefined
  #ready: Promise<void> | undefined
  /** The file as last read or written. */
  #file: FileState | undefined
  /** Monotonic time `#file` was last confirmed current. */
  #checkedAt = -Infinity
  /** Bumped by every write, so a read that started before it does not overwrite its result. */
  #generation = 0
  #refreshing: Promise<void> | undefined
  /** The file's records with `#flushing` and `#pending` replayed: what this process sees. */
  #view = new Map<string, AccountHealth>()
  #pending: PendingChange[] = []
  /** The batch a running write is applying (still part of the view until the write lands). */
  #flushing: readonly PendingChange[] = []
  #timer: NodeJS.Timeout | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  /** The stamp of the last unusable file warned about, so one bad file is reported once. */
  #warnedStamp: Stamp | null | undefined

  constructor(options: FilePoolStateStoreOptions) {
    this.home = resolve(options.home)
    this.path = join(this.home, QUOTA_FILE_NAME)
    this.lockPath = join(this.home, LOCKS_DIR_NAME, QUOTA_LOCK_FILE_NAME)
    this.#now = options.now ?? Date.now
    this.#flushDelayMs = options.flushDelayMs ?? DEFAULT_POOL_FLUSH_DELAY_MS
    this.#cacheMs = options.cacheMs ?? DEFAULT_POOL_CACHE_MS
    this.#logger = options.logger
  }

  /** @inheritDoc */
  async read(): Promise<ReadonlyMap<string, AccountHealth>> {
    await this.#refresh()
    return new Map(this.#view)
  }

  /** @inheritDoc */
  async update(
    accountId: string,
    change: (current: AccountHealth) => AccountHealth,
    options: { readonly urgent?: boolean } = {},
  ): Promise<AccountHealth> {
    if (options.urgent === true || this.#closed) {
      return this.#write((accounts) => this.#apply(accounts, accountId, change))
    }
    await this.#refresh()
    const next = this.#apply(this.#view, accountId, change)
    if (this.#pending.length >= MAX_PENDING_CHANGES) this.#pending.shift()
    this.#pending.push({ accountId, change })
    this.#timer ??= this.#arm()
    return next
  }

  /** @inheritDoc */
  async pinned(): Promise<string | null> {
    await this.#refresh()
    return this.#file?.pinned ?? null
  }

  /** @inheritDoc */
  async setPinned(accountId: string | null): Promise<void> {
    await this.#write((_accounts, state) => {
      state.pinned = accountId
    })
  }

  /** @inheritDoc */
  async forget(accountId: string): Promise<void> {
    // Changes queued before the removal would bring the record back.
    this.#pending = this.#pending.filter((entry) => entry.accountId !== accountId)
    await this.#write((accounts) => {
      accounts.delete(accountId)
    })
  }

  /** Writes the queued changes now (what the timer does). */
  async flush(): Promise<void> {
    if (this.#pending.length === 0) {
      await this.#tail
      return
    }
    await this.#write(() => undefined)
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.flush()
  }

  #arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timer = undefined
      this.flush().catch((error: unknown) => {
        this.#logger?.warn(
          { err: error, path: this.path, queued: this.#pending.length },
          'Could not write the pool health file; the queued changes are kept for the next write.',
        )
      })
    }, this.#flushDelayMs)
    // Batched health is not worth keeping a process alive for; close() writes it.
    timer.unref()
    return timer
  }

  #apply(
    accounts: Map<string, AccountHealth>,
    accountId: string,
    change: (current: AccountHealth) => AccountHealth,
  ): AccountHealth {
    const current = accounts.get(accountId) ?? emptyHealth(accountId, this.#now())
    const next = checkedHealth(accountId, change(current))
    accounts.set(accountId, next)
    return next
  }

  /**
   * The locked read-modify-write: the queue first, then `edit`, one write. The queue is taken at the start and
   * put back in front if anything fails, so no queued change is lost to a failed write.
   */
  #write<T>(
    edit: (accounts: Map<string, AccountHealth>, state: { pinned: string | null }) => T,
  ): Promise<T> {
    const task = async (): Promise<T> => {
      await this.#ensureReady()
      return withFileLock(
        this.lockPath,
        async () => {
          clearTimeout(this.#timer)
          this.#timer = undefined
          const batch = this.#pending
          this.#pending = []
          this.#flushing = batch
          try {
            const fresh = await this.#readFile()
            const accounts = new Map(fresh.accounts)
            this.#replay(accounts, batch)
            const state = { pinned: fresh.pinned }
            const result = edit(accounts, state)
            await writeSecretFile(this.path, encode(accounts, state.pinned))
            this.#generation += 1
            this.#setFile({ accounts, pinned: state.pinned, stamp: await this.#stat() })
            return result
          } catch (error) {
            this.#pending = [...batch, ...this.#pending].slice(-MAX_PENDING_CHANGES)
            throw error
          } finally {
            this.#flushing = []
            if (this.#pending.length > 0 && !this.#closed) this.#timer ??= this.#arm()
          }
        },
        { description: `the write lock of ${this.path}` },
      )
    }
    const run = this.#tail.then(task, task)
    this.#tail = run.catch(() => undefined)
    return run
  }

  /** Applies queued changes; one that throws on the fresh record is skipped with a warning. */
  #replay(accounts: Map<string, AccountHealth>, changes: readonly PendingChange[]): void {
    for (const { accountId, change } of changes) {
      try {
        this.#apply(accounts, accountId, change)
      } catch (error) {
        this.#logger?.warn(
          { err: error, accountId },
          'A queued pool health change failed on the current record and was skipped.',
        )
      }
    }
  }

  #setFile(file: FileState): void {
    this.#file = file
    this.#checkedAt = monotonicNow()
    const view = new Map(file.accounts)
    this.#replay(view, this.#flushing)
    this.#replay(view, this.#pending)
    this.#view = view
  }

  /** Brings the view up to date when the cache has expired and the file changed. */
  async #refresh(): Promise<void> {
    if (this.#file !== undefined && monotonicNow() - this.#checkedAt < this.#cacheMs) return
    this.#refreshing ??= (async () => {
      const generation = this.#generation
      await this.#ensureReady()
      const stamp = await this.#stat()
      if (this.#file !== undefined && sameStamp(stamp, this.#file.stamp)) {
        this.#checkedAt = monotonicNow()
        return
      }
      const file = await this.#readFile(stamp)
      if (generation === this.#generation) this.#setFile(file)
    })().finally(() => {
      this.#refreshing = undefined
    })
    await this.#refreshing
  }

  async #stat(): Promise<Stamp | null> {
    try {
      const { ino, size, mtimeMs, ctimeMs } = await lstat(this.path)
      return { ino, size, mtimeMs, ctimeMs }
    } catch (error) {
      if (hasErrnoCode(error, 'ENOENT')) return null
      throw error
    }
  }

  /**
   * Reads and decodes the file. A symbolic link or a loose mode throws `ERR_UNSAFE_FILE`; a file that is merely
   * unusable counts as empty, with one warning per version of it.
   */
  async #readFile(known?: Stamp | null): Promise<FileState> {
    const stamp = known === undefined ? await this.#stat() : known
    const empty: FileState = { accounts: new Map(), pinned: null, stamp }
    if (stamp === null) return empty
    if (stamp.size > MAX_QUOTA_FILE_BYTES) {
      this.#warnUnusable(stamp, `it is larger than ${MAX_QUOTA_FILE_BYTES} bytes`)
      return empty
    }
    let text: string
    try {
      text = await assertPrivateFile(this.path, { maxBytes: MAX_QUOTA_FILE_BYTES })
    } catch (error) {
      if (isBrokerError(error, 'ERR_NOT_FOUND')) return { ...empty, stamp: null }
      if (isBrokerError(error, 'ERR_UNSAFE_FILE')) throw error
      if (hasErrnoCode(error, 'EACCES', 'EPERM', 'EIO')) {
        this.#warnUnusable(stamp, 'it cannot be read')
        return empty
      }
      throw error
    }
    const decoded = decode(text)
    if (typeof decoded === 'string') {
      this.#warnUnusable(stamp, decoded)
      return empty
    }
    if (decoded.dropped > 0) {
      this.#warnUnusable(stamp, `${decoded.dropped} invalid record(s) were ignored`)
    }
    return { accounts: decoded.accounts, pinned: decoded.pinned, stamp }
  }

  #warnUnusable(stamp: Stamp, problem: string): void {
    if (this.#warnedStamp !== undefined && sameStamp(this.#warnedStamp, stamp)) return
    this.#warnedStamp = stamp
    this.#logger?.warn(
      { path: this.path },
      `Ignoring the pool health file ${this.path}: ${problem}. It holds no credentials; the next write replaces it.`,
    )
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= ensurePrivateDir(this.home).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined
        throw error
      },
    )
    return this.#ready
  }
}

interface Decoded {
  readonly accounts: Map<string, AccountHealth>
  readonly pinned: string | null
  readonly dropped: number
}

/** Decodes the file's text, or says why it cannot be used (without quoting it). */
function decode(text: string): Decoded | string {
  let json: unknown
  try {
    json = JSON.parse(text) as unknown
  } catch {
    return 'it is not valid JSON'
  }
  const envelope = envelopeSchema.safeParse(json)
  if (!envelope.success) return 'it does not have the expected shape'
  const { version, pinned } = envelope.data
  if (version !== QUOTA_FILE_VERSION) {
    return version > QUOTA_FILE_VERSION
      ? `it has format version ${version}, newer than this codex-broker (${QUOTA_FILE_VERSION})`
      : `it has an unknown format version`
  }
  const accounts = new Map<string, AccountHealth>()
  let dropped = 0
  // Own entries only, into a Map: an id such as "__proto__" stays data.
  for (const [id, value] of Object.entries(envelope.data.accounts)) {
    const record = parseAccountHealth(id, value)
    if (record === null) dropped += 1
    else accounts.set(id, record)
  }
  return { accounts, pinned, dropped }
}

function encode(accounts: ReadonlyMap<string, AccountHealth>, pinned: string | null): string {
  const body = { version: QUOTA_FILE_VERSION, pinned, accounts: Object.fromEntries(accounts) }
  return `${JSON.stringify(body, null, 2)}\n`
}
