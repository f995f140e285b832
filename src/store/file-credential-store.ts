/**
 * `FileCredentialStore`: the default store, `accounts.json` in the broker's home (DESIGN.md "Credentials at
 * rest"; SECURITY.md C5.6, C5.7, FS-01…FS-12). The home is created 0700 on first use and refused when it is
 * group/other-writable or owned by someone else (the message says how to fix it). The file is read only through
 * `assertPrivateFile` (a regular file, not a symbolic link, 0600, ours) and written only through `writeSecretFile`
 * (temp file `O_EXCL|O_NOFOLLOW` 0600 → fsync → rename → fsync the directory), so a reader sees the old or the new
 * content, never a partial one. Before a good file is replaced, its bytes are kept as `accounts.json.bak` (0600).
 *
 * There is no cache: every call reads the file again, because another process may have rotated a refresh token a
 * moment ago. `put`, `update` and `remove` are read-modify-write under the store-wide lock `locks/store.lock`
 * (plus an in-process queue), so concurrent writers — in this process or others — never lose each other's changes.
 * A file that cannot be decoded (corrupt, a newer format, the wrong key) fails reads and writes alike with its
 * error, and is never overwritten. `withAccountLock` takes `locks/account-<sha256(id) prefix>.lock` (file-lock.ts,
 * with stale-lock recovery) behind an in-process queue per account.
 *
 * Encryption (optional): with a key, each account's `auth` is an AES-256-GCM envelope bound to the account id
 * (account-codec.ts), so ids, emails and plans stay readable; plain records left from before are read and
 * encrypted on the next write.
 */
import { watch, type FSWatcher } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  type Clock,
  readPrivateFileIfPresent,
  ensurePrivateDir,
  sha256Hex,
  systemClock,
  writeSecretFile,
} from '../lib/index.js'
import { assertSameAccount, decodeAccountsFile, encodeAccountsFile } from './account-codec.js'
import type { AccountLockOptions, CredentialStore, StoredAccount } from './credential-store.js'
import type { EncryptionKey } from './encryption.js'
import { DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_TIMEOUT_MS, acquireFileLock } from './file-lock.js'
import { KeyedMutex } from './keyed-mutex.js'
import { accountLockDescription, accountNotFound, inProcessLockTimeout } from './store-errors.js'

/** The accounts file's name inside the home. */
export const ACCOUNTS_FILE_NAME = 'accounts.json'

/** The previous good version's name inside the home. */
export const ACCOUNTS_BACKUP_FILE_NAME = 'accounts.json.bak'

/** The lock directory's name inside the home. */
export const LOCKS_DIR_NAME = 'locks'

/** The store-wide write lock's name inside the lock directory. */
export const STORE_LOCK_FILE_NAME = 'store.lock'

/** The largest `accounts.json` accepted (16 MiB). */
export const MAX_ACCOUNTS_FILE_BYTES = 16 * 1024 * 1024

/**
 * The name of an account's lock file inside `locks/`: a hash prefix, so any id makes a safe file name.
 *
 * @example
 * accountLockFileName('acc-1') // 'account-<24 hex digits>.lock'
 */
export function accountLockFileName(id: string): string {
  return `account-${sha256Hex(id).slice(0, 24)}.lock`
}

/** Options of {@link FileCredentialStore}. */
export interface FileCredentialStoreOptions {
  /** The broker's home directory (created 0700 if missing). */
  readonly home: string
  /** Encrypt each account's credentials with this key (see key-source.ts). */
  readonly encryption?: EncryptionKey | undefined
  /** How long lock waits last by default (store writes and `withAccountLock`); default 30 s. */
  readonly lockTimeoutMs?: number
  /** Age after which a lock file is considered stale; default 60 s. */
  readonly lockStaleMs?: number
  /** Time for locks; default the system clock. */
  readonly clock?: Clock
}

interface Snapshot {
  /** The file's bytes as read, or null when it does not exist. */
  readonly text: string | null
  readonly accounts: StoredAccount[]
}

/**
 * Accounts in `<home>/accounts.json`.
 *
 * @example
 * const store = new FileCredentialStore({ home: '/home/me/.codex-broker' })
 * const accounts = await store.list()
 */
export class FileCredentialStore implements CredentialStore {
  /** The home directory (absolute). */
  readonly home: string
  /** The accounts file (absolute). */
  readonly path: string
  /** The backup of the previous good version (absolute). */
  readonly backupPath: string
  /** Whether credentials are encrypted at rest. */
  readonly encrypted: boolean

  readonly #encryption: EncryptionKey | undefined
  readonly #locksDir: string
  readonly #lockTimeoutMs: number
  readonly #lockStaleMs: number
  readonly #clock: Clock
  readonly #mutex: KeyedMutex
  #ready: Promise<void> | undefined

  constructor(options: FileCredentialStoreOptions) {
    this.home = resolve(options.home)
    this.path = join(this.home, ACCOUNTS_FILE_NAME)
    this.backupPath = join(this.home, ACCOUNTS_BACKUP_FILE_NAME)
    this.#locksDir = join(this.home, LOCKS_DIR_NAME)
    this.#encryption = options.encryption
    this.encrypted = options.encryption !== undefined
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
    this.#lockStaleMs = options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS
    this.#clock = options.clock ?? systemClock
    this.#mutex = new KeyedMutex(this.#clock)
  }

  /** @inheritDoc */
  async list(): Promise<StoredAccount[]> {
    await this.#ensureReady()
    return (await this.#read()).accounts
  }

  /** @inheritDoc */
  async get(id: string): Promise<StoredAccount | null> {
    await this.#ensureReady()
    return (await this.#read()).accounts.find((account) => account.id === id) ?? null
  }

  /** @inheritDoc */
  async put(account: StoredAccount): Promise<void> {
    await this.#mutate((accounts) => {
      const index = accounts.findIndex((existing) => existing.id === account.id)
      const next = [...accounts]
      if (index < 0) next.push(account)
      else next[index] = account
      return { next, result: undefined }
    })
  }

  /** @inheritDoc */
  async update(
    id: string,
    change: (current: StoredAccount) => StoredAccount,
  ): Promise<StoredAccount> {
    return this.#mutate((accounts) => {
      const index = accounts.findIndex((existing) => existing.id === id)
      const current = accounts[index]
      if (current === undefined) throw accountNotFound(id)
      const updated = assertSameAccount(id, change(current))
      const next = [...accounts]
      next[index] = updated
      return { next, result: updated }
    })
  }

  /** @inheritDoc */
  async remove(id: string): Promise<boolean> {
    return this.#mutate((accounts) => {
      const next = accounts.filter((account) => account.id !== id)
      return next.length === accounts.length
        ? { next: null, result: false }
        : { next, result: true }
    })
  }

  /** @inheritDoc */
  async withAccountLock<T>(
    id: string,
    task: () => Promise<T>,
    options: AccountLockOptions = {},
  ): Promise<T> {
    await this.#ensureReady()
    return this.#locked(
      `account:${id}`,
      join(this.#locksDir, accountLockFileName(id)),
      accountLockDescription(id),
      options.timeoutMs ?? this.#lockTimeoutMs,
      task,
    )
  }

  /**
   * Resolves at the next replacement of accounts.json (inotify/FSEvents through `fs.watch` on the home folder, since
   * every write is a rename onto it), or when `signal` aborts. Where watching is not possible it resolves only on
   * abort, and the caller's polling carries on alone.
   */
  onceChanged(signal: AbortSignal): Promise<void> {
    return new Promise((resolvePromise) => {
      if (signal.aborted) {
        resolvePromise()
        return
      }
      let watcher: FSWatcher | undefined
      const finish = (): void => {
        signal.removeEventListener('abort', finish)
        watcher?.close()
        resolvePromise()
      }
      signal.addEventListener('abort', finish, { once: true })
      try {
        watcher = watch(this.home, { persistent: false }, (_event, name) => {
          if (name === ACCOUNTS_FILE_NAME) finish()
        })
        watcher.on('error', () => {
          watcher?.close()
        })
      } catch {
        // No watching here (a missing folder, an exotic file system): polling alone.
      }
    })
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= (async () => {
      await ensurePrivateDir(this.home)
      await ensurePrivateDir(this.#locksDir)
    })().catch((error: unknown) => {
      this.#ready = undefined
      throw error
    })
    return this.#ready
  }

  async #read(): Promise<Snapshot> {
    const text = await readPrivateFileIfPresent(this.path, { maxBytes: MAX_ACCOUNTS_FILE_BYTES })
    if (text === null) return { text: null, accounts: [] }
    const accounts = decodeAccountsFile(text, { path: this.path, encryption: this.#encryption })
    return { text, accounts }
  }

  async #mutate<T>(
    change: (accounts: StoredAccount[]) => { next: StoredAccount[] | null; result: T },
  ): Promise<T> {
    await this.#ensureReady()
    return this.#locked(
      'store',
      join(this.#locksDir, STORE_LOCK_FILE_NAME),
      `the write lock of ${this.path}`,
      this.#lockTimeoutMs,
      async () => {
        const snapshot = await this.#read()
        const { next, result } = change(snapshot.accounts)
        if (next !== null) {
          const text = encodeAccountsFile(next, { encryption: this.#encryption })
          if (snapshot.text !== null) await writeSecretFile(this.backupPath, snapshot.text)
          await writeSecretFile(this.path, text)
        }
        return result
      },
    )
  }

  async #locked<T>(
    queueKey: string,
    lockPath: string,
    description: string,
    timeoutMs: number,
    task: () => Promise<T>,
  ): Promise<T> {
    const deadline = this.#clock.now() + timeoutMs
    return this.#mutex.run(
      queueKey,
      async () => {
        const lock = await acquireFileLock(lockPath, {
          timeoutMs: Math.max(0, deadline - this.#clock.now()),
          staleMs: this.#lockStaleMs,
          clock: this.#clock,
          description,
        })
        try {
          return await task()
        } finally {
          await lock.release()
        }
      },
      { timeoutMs, onTimeout: () => inProcessLockTimeout(description, timeoutMs) },
    )
  }
}
