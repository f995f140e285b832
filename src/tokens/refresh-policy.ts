/**
 * When a ChatGPT access token must be refreshed, and why (PROTOCOL.md §4 "When"): its `exp` is within the
 * proactive window (five minutes by default) → `proactive_expiry`; it has no `exp` and the last refresh is older
 * than the scheduled interval (eight days) → `scheduled`; otherwise it is fresh and nothing is sent. The same rule
 * decides whether this process's copy in memory may be handed out and whether a copy another process wrote to the
 * store may be adopted, so the two never disagree. Pure functions of the token's dates and the clock's `now`.
 */
import type { RefreshReason } from '../oauth/index.js'

/** Refresh this long before `exp` (PROTOCOL.md §4: five minutes). */
export const DEFAULT_PROACTIVE_WINDOW_MS = 5 * 60 * 1000

/** Refresh a token without `exp` once its last refresh is this old (PROTOCOL.md §4: eight days). */
export const DEFAULT_SCHEDULED_AFTER_MS = 8 * 24 * 60 * 60 * 1000

/** The two dates the policy looks at, as stored in `ChatgptAuth`. */
export interface TokenDates {
  /** The access token's `exp`, unix milliseconds; null when it has none. */
  expiresAt: number | null
  /** When the tokens were last obtained or refreshed, unix milliseconds. */
  lastRefresh: number
}

/** The policy's two intervals. */
export interface RefreshPolicy {
  /** Refresh when `exp` is closer than this (milliseconds). */
  proactiveWindowMs: number
  /** Without `exp`, refresh when the last refresh is older than this (milliseconds). */
  scheduledAfterMs: number
}

/**
 * Why a token must be refreshed at `now`, or null when it is fresh.
 *
 * @example
 * refreshReasonFor({ expiresAt: now + 60_000, lastRefresh: now }, now, policy) // 'proactive_expiry'
 * refreshReasonFor({ expiresAt: null, lastRefresh: now - 9 * DAY }, now, policy) // 'scheduled'
 * @see PROTOCOL.md §4
 */
export function refreshReasonFor(
  dates: TokenDates,
  now: number,
  policy: RefreshPolicy,
): Exclude<RefreshReason, 'unauthorized_recovery' | 'forced'> | null {
  if (dates.expiresAt !== null) {
    return dates.expiresAt - now > policy.proactiveWindowMs ? null : 'proactive_expiry'
  }
  return now - dates.lastRefresh > policy.scheduledAfterMs ? 'scheduled' : null
}

/**
 * True when the token may be used at `now` without a refresh.
 *
 * @example
 * if (isFresh(cached, clock.now(), policy)) return cached.accessToken
 */
export function isFresh(dates: TokenDates, now: number, policy: RefreshPolicy): boolean {
  return refreshReasonFor(dates, now, policy) === null
}
