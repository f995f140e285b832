/**
 * The account pool's contracts (DESIGN.md "The account pool"): what the pool remembers about each account's
 * health and quota, what a request's outcome tells it, the selection strategies, its events, and the store that
 * shares the health of every account between the processes using one home. Types only.
 */
import type { QuotaSnapshot } from '../upstream/index.js'

/** How the pool picks an account. */
export type PoolStrategy = 'sticky' | 'round-robin' | 'least-used' | 'pinned'

/** All strategies, for validation and help texts. */
export const POOL_STRATEGIES: readonly PoolStrategy[] = [
  'sticky',
  'round-robin',
  'least-used',
  'pinned',
]

/** The circuit breaker of one account (consecutive upstream failures: 5xx, network, Cloudflare). */
export type CircuitState = 'closed' | 'open' | 'half_open'

/**
 * What the pool knows about one account's health, shared between processes (no secret in it). Times are unix
 * milliseconds.
 */
export interface AccountHealth {
  readonly accountId: string
  /** The latest quota reading (from an answer's `x-codex-*` headers or `/wham/usage`), or null. */
  readonly quota: QuotaSnapshot | null
  /**
   * The account may not be used before this time: a usage limit (429 `usage_limit_reached`, account level, until
   * its `resets_at`), or a quota reading at 100 % until its window resets. Null when not cooling down.
   */
  readonly cooldownUntil: number | null
  /** Why it is cooling down. */
  readonly cooldownReason: 'usage_limit' | 'quota_exhausted' | null
  /** Upstream failures in a row (reset by a success). */
  readonly consecutiveFailures: number
  /** When the circuit opened (null when closed). Open until `circuitOpenUntil`, then half-open. */
  readonly circuitOpenedAt: number | null
  readonly circuitOpenUntil: number | null
  readonly lastSuccessAt: number | null
  readonly lastFailureAt: number | null
  /** When this record last changed. */
  readonly updatedAt: number
}

/** What happened to one request sent with an account: the pool's only input besides the store. */
export type RequestOutcome =
  /** The upstream answered 2xx; its quota headers when present. */
  | { readonly kind: 'success'; readonly quota: QuotaSnapshot | null }
  /** 429 `usage_limit_reached`: the account is out until `resetsAt` (unix ms; null when the answer gave none). */
  | { readonly kind: 'usage_limit'; readonly resetsAt: number | null }
  /** The sign-in is no longer usable (refresh refused, or 401 after one recovery): the store says `needs_login`. */
  | { readonly kind: 'needs_login' }
  /** An upstream fault that says nothing about the request itself: 5xx, network, timeout, Cloudflare challenge. */
  | { readonly kind: 'failure' }
  /** The request itself was wrong (400, unsupported model): no effect on the account's health. */
  | { readonly kind: 'client_error' }

/** Tunables of the health rules; every field has a default. */
export interface HealthPolicy {
  /** Consecutive failures that open the circuit (default 3). */
  readonly failureThreshold: number
  /** How long the circuit first stays open (default 30 s); doubled on each failed probe. */
  readonly openMs: number
  /** The longest open period (default 5 min). */
  readonly maxOpenMs: number
  /** Cooldown after a 429 that gave no reset time (default 60 s). */
  readonly defaultCooldownMs: number
}

/** Why an account cannot be used right now (for `ERR_POOL_EXHAUSTED` and `status`). */
export type Unusable =
  | { readonly kind: 'needs_login' }
  | { readonly kind: 'disabled' }
  | {
      readonly kind: 'cooling'
      readonly until: number
      readonly reason: 'usage_limit' | 'quota_exhausted'
    }
  | { readonly kind: 'circuit_open'; readonly until: number }
  /** Half-open with its one probe already out (in this process). */
  | { readonly kind: 'probing' }
  /** An API-key account in a ChatGPT pool, or the reverse. */
  | { readonly kind: 'wrong_kind' }

/** One account as the selection sees it. */
export interface Candidate {
  readonly accountId: string
  /** Index in the store's order (the order accounts were added): the tie-breaker. */
  readonly order: number
  readonly health: AccountHealth
  /** Null when usable. */
  readonly unusable: Unusable | null
  /** When this process last picked it (unix ms), or null. */
  readonly lastPickedAt: number | null
}

/** What a request offers for affinity: the same key goes to the same account while it is usable. */
export interface AffinityHints {
  /** The `session-id` header. */
  readonly sessionId?: string | null
  readonly promptCacheKey?: string | null
  readonly previousResponseId?: string | null
}

/** The pool's events. */
export type PoolEvent =
  | {
      readonly type: 'selected'
      readonly accountId: string
      readonly strategy: PoolStrategy
      readonly affinity: boolean
    }
  | {
      readonly type: 'cooldown'
      readonly accountId: string
      readonly until: number
      readonly reason: 'usage_limit' | 'quota_exhausted' | 'circuit_open'
    }
  | { readonly type: 'recovered'; readonly accountId: string }
  | { readonly type: 'needs_login'; readonly accountId: string }

/** The health of every account, shared between the processes using one home (or one Redis). */
export interface PoolStateStore {
  /** Every record, fresh enough for a selection (an implementation may cache for a short while). */
  read(): Promise<ReadonlyMap<string, AccountHealth>>
  /**
   * Read-modify-write of one record, atomic against other processes; `change` gets the current record (a fresh
   * empty one when absent). `urgent: false` (quota-only updates on every answer) may be written lazily, batched
   * within a short delay; `urgent: true` (cooldowns, circuit changes) is written before the promise resolves.
   */
  update(
    accountId: string,
    change: (current: AccountHealth) => AccountHealth,
    options?: { readonly urgent?: boolean },
  ): Promise<AccountHealth>
  /** The pinned account (`codex-broker accounts use ID`), or null. */
  pinned(): Promise<string | null>
  setPinned(accountId: string | null): Promise<void>
  /** Removes the record of an account that was removed from the credential store. */
  forget(accountId: string): Promise<void>
  /** Writes anything batched and stops timers. */
  close(): Promise<void>
}
