/**
 * Bounded affinity (DESIGN.md "The account pool"): a request that continues a conversation — the same
 * `previous_response_id`, `session-id` or `prompt_cache_key` — goes back to the account that served it, so the
 * upstream finds its stored response and warm prompt cache. The keys are caller-supplied strings, so the table is
 * an LRU with a fixed number of entries, a sliding time to live and a length cap per key: its memory stays bounded
 * whatever a client sends. In-process and pure: the time comes in as `now`.
 */
import type { AffinityHints } from './types.js'

/** Options of {@link AffinityTable}. */
export interface AffinityTableOptions {
  /** The most entries kept (default 10 000); the least recently used go first. */
  readonly maxEntries?: number
  /** An entry not used for this long is forgotten (default 1 hour). */
  readonly ttlMs?: number
}

/** Longer hint values are not remembered (and never match). */
export const MAX_AFFINITY_KEY_LENGTH = 512

interface Entry {
  readonly accountId: string
  /** Last remembered or found, unix ms. */
  readonly touchedAt: number
}

/**
 * Which account served a conversation.
 * @example
 * const affinity = new AffinityTable({ maxEntries: 10_000, ttlMs: 3_600_000 })
 * const preferred = affinity.lookup({ sessionId, promptCacheKey, previousResponseId }, now)
 * // … after the request went to `account`:
 * affinity.remember({ sessionId, promptCacheKey, previousResponseId }, account.accountId, now)
 */
export class AffinityTable {
  readonly #maxEntries: number
  readonly #ttlMs: number
  /** Insertion order is recency order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>()

  constructor(options: AffinityTableOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000
    const ttlMs = options.ttlMs ?? 3_600_000
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`)
    }
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RangeError(`ttlMs must be a finite number > 0, got ${ttlMs}`)
    }
    this.#maxEntries = maxEntries
    this.#ttlMs = ttlMs
  }

  /**
   * The account remembered for these hints (the response id first, then the session, then the cache key), or
   * null. A hit counts as a use: it refreshes the entry's recency and time to live.
   * @example
   * affinity.lookup({ previousResponseId: 'resp_1' }, now) // 'acc_1'
   */
  lookup(hints: AffinityHints, now: number): string | null {
    for (const key of keysOf(hints)) {
      const entry = this.#entries.get(key)
      if (entry === undefined) continue
      this.#entries.delete(key)
      if (now - entry.touchedAt >= this.#ttlMs) continue
      this.#entries.set(key, { accountId: entry.accountId, touchedAt: now })
      return entry.accountId
    }
    return null
  }

  /**
   * Remembers that these hints went to `accountId` (every usable hint, each replacing what it had).
   * @example
   * affinity.remember({ sessionId: 'a7c3…', promptCacheKey: 'thread-9' }, 'acc_2', now)
   */
  remember(hints: AffinityHints, accountId: string, now: number): void {
    for (const key of keysOf(hints)) {
      this.#entries.delete(key)
      this.#entries.set(key, { accountId, touchedAt: now })
    }
    this.#prune(now)
  }

  /**
   * Drops every entry that points at `accountId` (it was removed or can no longer be used).
   * @example
   * pool.on('needs_login', ({ accountId }) => affinity.forget(accountId))
   */
  forget(accountId: string): void {
    for (const [key, entry] of this.#entries) {
      if (entry.accountId === accountId) this.#entries.delete(key)
    }
  }

  /**
   * The number of entries held (expired ones may still count until they are dropped).
   * @example
   * metrics.gauge('affinity_entries', affinity.size)
   */
  get size(): number {
    return this.#entries.size
  }

  /** Drops expired entries from the old end, then the least recently used beyond the bound. */
  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.touchedAt < this.#ttlMs && this.#entries.size <= this.#maxEntries) break
      this.#entries.delete(key)
    }
  }
}

/** The table keys of the hints, most specific first; empty and over-long values are ignored. */
function keysOf(hints: AffinityHints): string[] {
  const keys: string[] = []
  const add = (prefix: string, value: string | null | undefined) => {
    if (value != null && value !== '' && value.length <= MAX_AFFINITY_KEY_LENGTH) {
      keys.push(prefix + value)
    }
  }
  add('r:', hints.previousResponseId)
  add('s:', hints.sessionId)
  add('c:', hints.promptCacheKey)
  return keys
}
