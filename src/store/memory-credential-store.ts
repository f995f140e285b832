/**
 * `MemoryCredentialStore`: the `CredentialStore` contract held in one process's memory, for tests, short-lived
 * tools and embedding. Accounts are copied on the way in and on the way out, so a caller can never change the
 * store by mutating an object it holds; account locks are an in-process queue with the contract's timeout.
 * Nothing survives the process.
 */
import { type Clock, systemClock } from '../lib/index.js'
import { assertSameAccount, cloneAccount } from './account-codec.js'
import type { AccountLockOptions, CredentialStore, StoredAccount } from './credential-store.js'
import { DEFAULT_LOCK_TIMEOUT_MS } from './file-lock.js'
import { KeyedMutex } from './keyed-mutex.js'
import { accountLockDescription, accountNotFound, inProcessLockTimeout } from './store-errors.js'

/** Options of {@link MemoryCredentialStore}. */
export interface MemoryCredentialStoreOptions {
  /** Accounts to start with (copied). */
  readonly accounts?: readonly StoredAccount[]
  /** Default lock timeout; default 30 s. */
  readonly lockTimeoutMs?: number
  /** Time for lock timeouts; default the system clock. */
  readonly clock?: Clock
}

/**
 * Accounts in memory.
 *
 * @example
 * const store = new MemoryCredentialStore()
 * await store.put(account)
 */
export class MemoryCredentialStore implements CredentialStore {
  readonly #accounts = new Map<string, StoredAccount>()
  readonly #locks: KeyedMutex
  readonly #lockTimeoutMs: number

  constructor(options: MemoryCredentialStoreOptions = {}) {
    for (const account of options.accounts ?? []) {
      this.#accounts.set(account.id, cloneAccount(account))
    }
    this.#locks = new KeyedMutex(options.clock ?? systemClock)
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  }

  /** @inheritDoc */
  list(): Promise<StoredAccount[]> {
    return Promise.resolve([...this.#accounts.values()].map(cloneAccount))
  }

  /** @inheritDoc */
  get(id: string): Promise<StoredAccount | null> {
    const account = this.#accounts.get(id)
    return Promise.resolve(account === undefined ? null : cloneAccount(account))
  }

  /** @inheritDoc */
  put(account: StoredAccount): Promise<void> {
    this.#accounts.set(account.id, cloneAccount(account))
    return Promise.resolve()
  }

  /** @inheritDoc */
  update(id: string, change: (current: StoredAccount) => StoredAccount): Promise<StoredAccount> {
    return new Promise((resolve) => {
      const current = this.#accounts.get(id)
      if (current === undefined) throw accountNotFound(id)
      const next = cloneAccount(assertSameAccount(id, change(cloneAccount(current))))
      this.#accounts.set(id, next)
      resolve(cloneAccount(next))
    })
  }

  /** @inheritDoc */
  remove(id: string): Promise<boolean> {
    return Promise.resolve(this.#accounts.delete(id))
  }

  /** @inheritDoc */
  withAccountLock<T>(
    id: string,
    task: () => Promise<T>,
    options: AccountLockOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#lockTimeoutMs
    return this.#locks.run(id, task, {
      timeoutMs,
      onTimeout: () => inProcessLockTimeout(accountLockDescription(id), timeoutMs),
    })
  }
}
