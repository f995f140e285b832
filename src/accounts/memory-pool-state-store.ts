/**
 * `MemoryPoolStateStore`: the `PoolStateStore` contract in one process's memory (DESIGN.md "The account pool"), for
 * tests and for the library when no home is given. Every update is applied at once, so `urgent` changes nothing;
 * nothing is shared with other processes and nothing survives a restart.
 */
import { emptyHealth } from './health.js'
import type { AccountHealth, PoolStateStore } from './types.js'

/** Options of {@link MemoryPoolStateStore}. */
export interface MemoryPoolStateStoreOptions {
  /** The clock of the `updatedAt` of fresh records; default `Date.now`. */
  readonly now?: () => number
}

/**
 * Pool health in memory.
 *
 * @example
 * const state = new MemoryPoolStateStore()
 * await state.update('acc-1', (h) => ({ ...h, consecutiveFailures: h.consecutiveFailures + 1 }), { urgent: true })
 * (await state.read()).get('acc-1')?.consecutiveFailures // 1
 */
export class MemoryPoolStateStore implements PoolStateStore {
  readonly #now: () => number
  readonly #records = new Map<string, AccountHealth>()
  #pinned: string | null = null

  constructor(options: MemoryPoolStateStoreOptions = {}) {
    this.#now = options.now ?? Date.now
  }

  /** @inheritDoc */
  read(): Promise<ReadonlyMap<string, AccountHealth>> {
    // A copy: a caller holding the map must not see (or make) later changes.
    return Promise.resolve(new Map(this.#records))
  }

  /** @inheritDoc */
  update(
    accountId: string,
    change: (current: AccountHealth) => AccountHealth,
    _options?: { readonly urgent?: boolean },
  ): Promise<AccountHealth> {
    try {
      const current = this.#records.get(accountId) ?? emptyHealth(accountId, this.#now())
      const next = change(current)
      if (next.accountId !== accountId) {
        throw new TypeError(
          `A pool health change for account ${accountId} returned the record of ${next.accountId}.`,
        )
      }
      this.#records.set(accountId, next)
      return Promise.resolve(next)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  /** @inheritDoc */
  pinned(): Promise<string | null> {
    return Promise.resolve(this.#pinned)
  }

  /** @inheritDoc */
  setPinned(accountId: string | null): Promise<void> {
    this.#pinned = accountId
    return Promise.resolve()
  }

  /** @inheritDoc */
  forget(accountId: string): Promise<void> {
    this.#records.delete(accountId)
    return Promise.resolve()
  }

  /** @inheritDoc */
  close(): Promise<void> {
    return Promise.resolve()
  }
}
