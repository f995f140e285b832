/**
 * `AccountPool`: picks the account for each request among the signed-in ones and learns from what happened to it
 * (DESIGN.md "The account pool"). Accounts come from the credential store (its `needs_login` and `disabled` ones
 * are never picked); their health — quota, cooldowns, the circuit breaker — comes from a `PoolStateStore` shared
 * by every process on the same home, so a cooldown one proxy learns holds for all. A pick goes, in order: to the
 * pinned account under `pinned`; to the account a conversation already uses (affinity on `session-id`,
 * `prompt_cache_key`, `previous_response_id`) while it is usable; otherwise to the strategy's choice. When nothing
 * is usable the pool answers at once with a `PoolExhaustedError` that says why and until when, never a wait.
 */
import { createLogger, type Clock, type Logger, systemClock } from '../lib/index.js'
import type { CredentialStore, StoredAccount } from '../store/index.js'
import type { QuotaSnapshot } from '../upstream/index.js'
import { AccountSelector } from './account-selector.js'
import { AffinityTable } from './affinity-table.js'
import {
  applyOutcome,
  circuitState,
  DEFAULT_HEALTH_POLICY,
  emptyHealth,
  recordQuota,
  unusableReason,
} from './health.js'
import { MemoryPoolStateStore } from './memory-pool-state-store.js'
import { poolExhaustedError } from './pool-exhausted.js'
import type {
  AccountHealth,
  AffinityHints,
  Candidate,
  HealthPolicy,
  PoolEvent,
  PoolStateStore,
  PoolStrategy,
  RequestOutcome,
  Unusable,
} from './types.js'

/** Options of {@link AccountPool}. */
export interface AccountPoolOptions {
  readonly store: CredentialStore
  /** Where health is shared; default an in-process `MemoryPoolStateStore`. */
  readonly state?: PoolStateStore
  /** Default `sticky`. */
  readonly strategy?: PoolStrategy
  /** Which accounts serve: ChatGPT sign-ins (default) or API keys. */
  readonly kind?: 'chatgpt' | 'apiKey'
  /** Least time between switches under `round-robin` and `least-used` (default 0). */
  readonly minRotationIntervalMs?: number
  readonly policy?: Partial<HealthPolicy>
  readonly affinity?: { readonly maxEntries?: number; readonly ttlMs?: number }
  /** How long the list of accounts is reused before the store is read again (default 1 s). */
  readonly accountsCacheMs?: number
  readonly clock?: Clock
  readonly logger?: Logger
}

/** One request's hold on an account; report what happened exactly once (or cancel). */
export interface PoolLease {
  readonly accountId: string
  /** Records the outcome in the account's health (shared with other processes). */
  report(outcome: RequestOutcome): Promise<void>
  /** Gives the account back without a verdict (the client went away before an answer). */
  cancel(): void
}

/** What `status` shows of one account. */
export interface PoolAccountView {
  readonly account: StoredAccount
  readonly health: AccountHealth
  /** Null when usable. */
  readonly unusable: Unusable | null
  readonly pinned: boolean
}

type Listener = (event: PoolEvent) => void

/** A reading with a window used up: it starts a cooldown, which other processes must see at once. */
function atLimit(quota: QuotaSnapshot | null): boolean {
  return (quota?.primary?.usedPercent ?? 0) >= 100 || (quota?.secondary?.usedPercent ?? 0) >= 100
}

/**
 * The account pool.
 * @example
 * const pool = new AccountPool({ store, state: new FilePoolStateStore({ home }) })
 * const lease = await pool.acquire({ sessionId })
 * try {
 *   const answer = await send(lease.accountId)
 *   await lease.report({ kind: 'success', quota: answer.quota })
 * } catch (error) {
 *   await lease.report(outcomeOf(error))
 * }
 */
export class AccountPool {
  readonly strategy: PoolStrategy
  readonly #store: CredentialStore
  readonly #state: PoolStateStore
  readonly #kind: 'chatgpt' | 'apiKey'
  readonly #policy: HealthPolicy
  readonly #selector: AccountSelector
  readonly #affinity: AffinityTable
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #accountsCacheMs: number
  readonly #listeners = new Set<Listener>()
  /** Half-open accounts whose single probe is out (in this process). */
  readonly #probing = new Set<string>()
  readonly #lastPicked = new Map<string, number>()
  #accounts: { readonly at: number; readonly list: Promise<StoredAccount[]> } | null = null

  constructor(options: AccountPoolOptions) {
    this.strategy = options.strategy ?? 'sticky'
    this.#store = options.store
    this.#state = options.state ?? new MemoryPoolStateStore()
    this.#kind = options.kind ?? 'chatgpt'
    this.#policy = { ...DEFAULT_HEALTH_POLICY, ...options.policy }
    this.#selector = new AccountSelector(this.strategy, {
      minRotationIntervalMs: options.minRotationIntervalMs ?? 0,
    })
    this.#affinity = new AffinityTable(options.affinity ?? {})
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? createLogger({ level: 'silent' })
    this.#accountsCacheMs = options.accountsCacheMs ?? 1_000
  }

  /**
   * Picks an account for one request.
   * @param options.exclude accounts this request already tried (failover before the first byte)
   * @throws {PoolExhaustedError} at once when no account is usable, saying why and until when
   */
  async acquire(
    hints: AffinityHints = {},
    options: { readonly exclude?: ReadonlySet<string> } = {},
  ): Promise<PoolLease> {
    const now = this.#clock.now()
    const [judged, pinned] = await Promise.all([this.#candidates(now), this.#pinnedId()])
    // #candidates judged the half-open probe before this await; a concurrent acquire may have sent it since, so
    // it is judged again here, synchronously with the pick below (else two racing acquires both probe).
    const candidates = judged.map((candidate) =>
      candidate.unusable === null &&
      this.#probing.has(candidate.accountId) &&
      circuitState(candidate.health, now) === 'half_open'
        ? { ...candidate, unusable: { kind: 'probing' as const } }
        : candidate,
    )
    const exclude = options.exclude ?? new Set<string>()
    const open = candidates.filter((candidate) => !exclude.has(candidate.accountId))
    const usable = (id: string | null): Candidate | undefined =>
      open.find((candidate) => candidate.accountId === id && candidate.unusable === null)
    // Pinning wins over affinity: a pinned pool uses that one account or none.
    const affine =
      this.strategy === 'pinned' ? undefined : usable(this.#affinity.lookup(hints, now))
    const picked = affine ?? this.#selector.pick(open, now, pinned)
    const viaAffinity = affine !== undefined
    if (picked === null) {
      // Every account, the tried ones included: with only the untried ones, a request that tried them all got
      // "No account is signed in", and one whose tries all hit 429s lost the "rate-limited until" answer.
      throw poolExhaustedError(candidates, now, { strategy: this.strategy, pinned })
    }
    const accountId = picked.accountId
    this.#lastPicked.set(accountId, now)
    this.#affinity.remember(hints, accountId, now)
    const probe = circuitState(picked.health, now) === 'half_open'
    if (probe) this.#probing.add(accountId)
    this.#emit({ type: 'selected', accountId, strategy: this.strategy, affinity: viaAffinity })
    let settled = false
    return {
      accountId,
      report: async (outcome) => {
        if (settled) return
        settled = true
        if (probe) this.#probing.delete(accountId)
        await this.report(accountId, outcome)
      },
      cancel: () => {
        if (settled) return
        settled = true
        if (probe) this.#probing.delete(accountId)
      },
    }
  }

  /** Records what happened to a request sent with `accountId` (what a lease's `report` does). */
  async report(accountId: string, outcome: RequestOutcome): Promise<void> {
    if (outcome.kind === 'client_error') return
    if (outcome.kind === 'needs_login') this.#accounts = null
    const now = this.#clock.now()
    let events: PoolEvent[] = []
    // Quota-only news may be batched; anything that changes other processes' picks is shared at once.
    const before = (await this.#state.read().catch(() => null))?.get(accountId)
    const troubled =
      before !== undefined &&
      (before.consecutiveFailures > 0 ||
        before.cooldownUntil !== null ||
        before.circuitOpenedAt !== null)
    try {
      await this.#state.update(
        accountId,
        (current) => {
          const next = applyOutcome(current, outcome, now, this.#policy)
          events = next.events
          return next.health
        },
        { urgent: outcome.kind !== 'success' || troubled || atLimit(outcome.quota) },
      )
    } catch (error) {
      // The request itself went fine or failed on its own; losing one health note must not fail it too.
      this.#logger.warn({ err: error, accountId }, 'pool: could not record the outcome')
      return
    }
    for (const event of events) this.#emit(event)
  }

  /** Records a quota reading (from `/wham/usage`) without a request outcome. */
  async recordQuota(accountId: string, quota: QuotaSnapshot): Promise<void> {
    const now = this.#clock.now()
    let events: PoolEvent[] = []
    await this.#state.update(
      accountId,
      (current) => {
        const next = recordQuota(current, quota, now)
        events = next.events
        return next.health
      },
      { urgent: true },
    )
    for (const event of events) this.#emit(event)
  }

  /** Every account with its health, for `status` and the surfaces. */
  async snapshot(): Promise<PoolAccountView[]> {
    const now = this.#clock.now()
    const [accounts, health, pinned] = await Promise.all([
      this.#store.list(),
      this.#state.read(),
      // The pin is shown whatever this pool's strategy is.
      this.#state.pinned(),
    ])
    return accounts.map((account) => {
      const record = health.get(account.id) ?? emptyHealth(account.id, now)
      return {
        account,
        health: record,
        unusable: this.#unusable(account, record, now),
        pinned: account.id === pinned,
      }
    })
  }

  /**
   * Listens to the pool's events (`selected`, `cooldown`, `recovered`, `needs_login`); answers the unsubscribe.
   * @example
   * const stop = pool.on((event) => { if (event.type === 'cooldown') log(event) })
   */
  on(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Writes any batched health and stops the state store's timers. */
  async close(): Promise<void> {
    this.#listeners.clear()
    await this.#state.close()
  }

  async #candidates(now: number): Promise<Candidate[]> {
    const [accounts, health] = await Promise.all([this.#listAccounts(now), this.#state.read()])
    return accounts.map((account, order) => {
      const record = health.get(account.id) ?? emptyHealth(account.id, now)
      return {
        accountId: account.id,
        order,
        health: record,
        unusable: this.#unusable(account, record, now),
        lastPickedAt: this.#lastPicked.get(account.id) ?? null,
      }
    })
  }

  #unusable(account: StoredAccount, health: AccountHealth, now: number): Unusable | null {
    return unusableReason(account, health, now, {
      kind: this.#kind,
      probeInFlight: this.#probing.has(account.id),
    })
  }

  #listAccounts(now: number): Promise<StoredAccount[]> {
    const cached = this.#accounts
    if (cached !== null && now - cached.at < this.#accountsCacheMs) return cached.list
    const list = this.#store.list()
    this.#accounts = { at: now, list }
    list.catch(() => {
      // A failed read is not cached: the next acquire reads again.
      if (this.#accounts?.list === list) this.#accounts = null
    })
    return list
  }

  async #pinnedId(): Promise<string | null> {
    return this.strategy === 'pinned' ? this.#state.pinned() : null
  }

  #emit(event: PoolEvent): void {
    if (event.type !== 'selected') this.#logger.info({ event: `pool.${event.type}`, ...event })
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        this.#logger.warn({ err: error }, 'pool: an event listener threw')
      }
    }
  }
}
