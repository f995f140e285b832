/**
 * The health rules of one account (DESIGN.md "The account pool"), as pure functions of a record, an outcome and
 * the time: consecutive failures and the circuit breaker with half-open probes, the cooldown until a 429's
 * `resets_at` (cleared by the first success after it), a cooldown when a quota reading shows a window at 100 %
 * (so an exhausted account is not picked again just to earn its 429), and why an account cannot be used now.
 * No I/O and no clock: the pool passes `now` (unix ms) and stores what comes back, so every rule is testable.
 */
import type { AccountStatus } from '../store/index.js'
import type { QuotaSnapshot } from '../upstream/index.js'
import type {
  AccountHealth,
  CircuitState,
  HealthPolicy,
  PoolEvent,
  RequestOutcome,
  Unusable,
} from './types.js'

/**
 * The default health rules: 3 failures in a row open the circuit for 30 s, doubled on each failed probe up to
 * 5 min; a 429 without a reset time cools the account for 60 s.
 * @example
 * applyOutcome(health, { kind: 'failure' }, now, { ...DEFAULT_HEALTH_POLICY, failureThreshold: 5 })
 */
export const DEFAULT_HEALTH_POLICY: HealthPolicy = {
  failureThreshold: 3,
  openMs: 30_000,
  maxOpenMs: 300_000,
  defaultCooldownMs: 60_000,
}

/** A health record and the events its change produced. */
export interface HealthChange {
  readonly health: AccountHealth
  readonly events: PoolEvent[]
}

/**
 * The record of an account the pool knows nothing about yet: healthy, no reading.
 * @example
 * const health = stored.get(accountId) ?? emptyHealth(accountId, clock.now())
 */
export function emptyHealth(accountId: string, now: number): AccountHealth {
  return {
    accountId,
    quota: null,
    cooldownUntil: null,
    cooldownReason: null,
    consecutiveFailures: 0,
    circuitOpenedAt: null,
    circuitOpenUntil: null,
    lastSuccessAt: null,
    lastFailureAt: null,
    updatedAt: now,
  }
}

/**
 * The circuit breaker's state at `now`: closed, open until `circuitOpenUntil`, then half-open (one probe may go).
 * @example
 * if (circuitState(health, now) === 'half_open') sendProbe()
 */
export function circuitState(health: AccountHealth, now: number): CircuitState {
  if (health.circuitOpenedAt === null) return 'closed'
  return health.circuitOpenUntil !== null && health.circuitOpenUntil > now ? 'open' : 'half_open'
}

/**
 * Applies what one request's outcome says to an account's record. Returns a new record (the input is never
 * mutated; `client_error` returns it as is) and the events to publish.
 * @example
 * const { health: next, events } = applyOutcome(health, { kind: 'usage_limit', resetsAt }, now)
 * await store.update(accountId, () => next, { urgent: events.length > 0 })
 */
export function applyOutcome(
  health: AccountHealth,
  outcome: RequestOutcome,
  now: number,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): HealthChange {
  switch (outcome.kind) {
    case 'success':
      return success(health, outcome.quota, now)
    case 'usage_limit':
      return usageLimit(health, outcome.resetsAt, now, policy)
    case 'needs_login':
      return {
        health: { ...health, lastFailureAt: now, updatedAt: now },
        events: [{ type: 'needs_login', accountId: health.accountId }],
      }
    case 'failure':
      return failure(health, now, policy)
    case 'client_error':
      return { health, events: [] }
  }
}

/**
 * Records a quota reading that did not come with a request (`GET /wham/usage`): the quota part of a success,
 * without touching failures, the circuit or a passed cooldown (a reading proves nothing about the account working).
 * @example
 * const { health: next, events } = recordQuota(health, quotaFromUsage(usage), now)
 */
export function recordQuota(
  health: AccountHealth,
  quota: QuotaSnapshot,
  now: number,
): HealthChange {
  return withQuota({ ...health, updatedAt: now }, quota, now, [])
}

/** An account as {@link unusableReason} needs to see it (a `StoredAccount` fits). */
export interface UsabilityAccount {
  readonly status: AccountStatus
  readonly auth: { readonly kind: 'chatgpt' | 'apiKey' }
}

/** What {@link unusableReason} needs besides the account. */
export interface UsabilityOptions {
  /** The kind of sign-in this pool serves (the upstream it talks to). */
  readonly kind: 'chatgpt' | 'apiKey'
  /** Whether this process already sent the one probe of a half-open circuit. */
  readonly probeInFlight: boolean
}

/**
 * Why an account cannot take a request at `now`, or null when it can. The store's status comes first (a sign-in
 * is the most durable reason); a half-open account without a probe out is usable: it becomes the probe.
 * @example
 * const unusable = unusableReason(account, health, now, { kind: 'chatgpt', probeInFlight: probes.has(id) })
 */
export function unusableReason(
  account: UsabilityAccount,
  health: AccountHealth,
  now: number,
  options: UsabilityOptions,
): Unusable | null {
  if (account.status === 'needs_login') return { kind: 'needs_login' }
  if (account.status === 'disabled') return { kind: 'disabled' }
  if (account.auth.kind !== options.kind) return { kind: 'wrong_kind' }
  if (health.cooldownUntil !== null && health.cooldownUntil > now) {
    // A record without a reason (an older writer) is treated as a usage limit: it was a 429.
    return {
      kind: 'cooling',
      until: health.cooldownUntil,
      reason: health.cooldownReason ?? 'usage_limit',
    }
  }
  const state = circuitState(health, now)
  if (state === 'open') return { kind: 'circuit_open', until: health.circuitOpenUntil ?? now }
  if (state === 'half_open' && options.probeInFlight) return { kind: 'probing' }
  return null
}

function success(health: AccountHealth, quota: QuotaSnapshot | null, now: number): HealthChange {
  const events: PoolEvent[] = []
  const cooldownPassed = health.cooldownUntil !== null && health.cooldownUntil <= now
  if (cooldownPassed || circuitState(health, now) !== 'closed') {
    events.push({ type: 'recovered', accountId: health.accountId })
  }
  const next: AccountHealth = {
    ...health,
    consecutiveFailures: 0,
    circuitOpenedAt: null,
    circuitOpenUntil: null,
    lastSuccessAt: now,
    updatedAt: now,
    // A cooldown still in the future is kept: this answer may have left before the 429 that set it.
    ...(cooldownPassed ? { cooldownUntil: null, cooldownReason: null } : {}),
  }
  return quota === null ? exhaustion(next, now, events) : withQuota(next, quota, now, events)
}

function usageLimit(
  health: AccountHealth,
  resetsAt: number | null,
  now: number,
  policy: HealthPolicy,
): HealthChange {
  // A reset time already past (clock skew, a stale body) would make the account usable at once and loop on 429s.
  const until = resetsAt !== null && resetsAt > now ? resetsAt : now + policy.defaultCooldownMs
  const cooldownUntil = Math.max(until, futureCooldown(health, now) ?? until)
  return {
    health: {
      ...health,
      cooldownUntil,
      cooldownReason: 'usage_limit',
      lastFailureAt: now,
      updatedAt: now,
    },
    events: [
      {
        type: 'cooldown',
        accountId: health.accountId,
        until: cooldownUntil,
        reason: 'usage_limit',
      },
    ],
  }
}

function failure(health: AccountHealth, now: number, policy: HealthPolicy): HealthChange {
  const consecutiveFailures = health.consecutiveFailures + 1
  const counted: AccountHealth = {
    ...health,
    consecutiveFailures,
    lastFailureAt: now,
    updatedAt: now,
  }
  const state = circuitState(health, now)
  let openFor: number | null = null
  if (state === 'half_open') {
    const previous = (health.circuitOpenUntil ?? now) - (health.circuitOpenedAt ?? now)
    // A record with a nonsensical period (hand-edited, an older writer) restarts from openMs.
    openFor = Math.min(Math.max(previous * 2, policy.openMs), policy.maxOpenMs)
  } else if (state === 'closed' && consecutiveFailures >= policy.failureThreshold) {
    openFor = Math.min(policy.openMs, policy.maxOpenMs)
  }
  // While open, a failure of a request sent before the circuit opened only counts; it does not extend the period.
  if (openFor === null) return { health: counted, events: [] }
  const until = now + openFor
  return {
    health: { ...counted, circuitOpenedAt: now, circuitOpenUntil: until },
    events: [{ type: 'cooldown', accountId: health.accountId, until, reason: 'circuit_open' }],
  }
}

/** Stores a reading (an older one never replaces a newer one) and applies its exhaustion rule. */
function withQuota(
  health: AccountHealth,
  quota: QuotaSnapshot,
  now: number,
  events: PoolEvent[],
): HealthChange {
  const newer = health.quota === null || quota.observedAt >= health.quota.observedAt
  return exhaustion(newer ? { ...health, quota } : health, now, events)
}

/** A window at 100 % until a future reset cools the account until then (the later reset when both are full). */
function exhaustion(health: AccountHealth, now: number, events: PoolEvent[]): HealthChange {
  const until = exhaustedUntil(health.quota, now)
  const current = futureCooldown(health, now)
  if (until === null || (current !== null && current >= until)) return { health, events }
  return {
    health: { ...health, cooldownUntil: until, cooldownReason: 'quota_exhausted' },
    events: [
      ...events,
      { type: 'cooldown', accountId: health.accountId, until, reason: 'quota_exhausted' },
    ],
  }
}

function exhaustedUntil(quota: QuotaSnapshot | null, now: number): number | null {
  let until: number | null = null
  for (const window of [quota?.primary, quota?.secondary]) {
    if (window?.resetsAt == null || window.usedPercent < 100 || window.resetsAt <= now) continue
    until = Math.max(until ?? window.resetsAt, window.resetsAt)
  }
  return until
}

function futureCooldown(health: AccountHealth, now: number): number | null {
  return health.cooldownUntil !== null && health.cooldownUntil > now ? health.cooldownUntil : null
}
