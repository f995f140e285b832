/**
 * One reading of an account's rate limits, rendered two ways: as the `x-codex-*` headers that ride on every
 * answer of `codex/responses` (PROTOCOL.md §7) and as the body of `GET /wham/usage`. Both come from the same
 * snapshot so a client comparing them never sees two versions of the truth. The simulator's accounts carry no
 * credits, so every account reports none (`has_credits: false`, `unlimited: false`, balance `"0"`).
 */
import type { SimState } from '../state.js'
import type { SimAccount, SimPlan } from '../types.js'

/** One window of a snapshot. */
export interface RateLimitWindow {
  usedPercent: number
  windowMinutes: number
  /** Unix seconds. */
  resetAt: number
}

/** An account's limits as of one instant. */
export interface RateLimitSnapshot {
  plan: SimPlan
  /** Unix seconds of the reading. */
  nowSeconds: number
  /** The short (5-hour) window. */
  primary: RateLimitWindow
  /** The long (7-day) window. */
  secondary: RateLimitWindow
  credits: { hasCredits: boolean; unlimited: boolean; balance: string }
}

/** Reads the account's quota now (windows past their reset start over, see `SimState.currentQuota`). */
export function rateLimitSnapshot(state: SimState, account: SimAccount): RateLimitSnapshot {
  const quota = state.currentQuota(account)
  return {
    plan: account.plan,
    nowSeconds: Math.floor(state.now() / 1000),
    primary: {
      usedPercent: quota.primaryUsedPercent,
      windowMinutes: quota.primaryWindowMinutes,
      resetAt: quota.primaryResetAt,
    },
    secondary: {
      usedPercent: quota.secondaryUsedPercent,
      windowMinutes: quota.secondaryWindowMinutes,
      resetAt: quota.secondaryResetAt,
    },
    credits: { hasCredits: false, unlimited: false, balance: '0' },
  }
}

/** The `x-codex-*` headers of a snapshot (names lower-case, values as the real backend sends them). */
export function rateLimitHeaders(snapshot: RateLimitSnapshot): Record<string, string> {
  const { primary, secondary, credits } = snapshot
  return {
    'x-codex-primary-used-percent': String(primary.usedPercent),
    'x-codex-primary-window-minutes': String(primary.windowMinutes),
    'x-codex-primary-reset-at': String(primary.resetAt),
    'x-codex-secondary-used-percent': String(secondary.usedPercent),
    'x-codex-secondary-window-minutes': String(secondary.windowMinutes),
    'x-codex-secondary-reset-at': String(secondary.resetAt),
    'x-codex-credits-has-credits': String(credits.hasCredits),
    'x-codex-credits-unlimited': String(credits.unlimited),
    'x-codex-credits-balance': credits.balance,
  }
}

/** The body of `GET /backend-api/wham/usage`, exactly PROTOCOL.md §7's shape. */
export function usageBody(snapshot: RateLimitSnapshot): {
  plan_type: SimPlan
  rate_limit: { primary_window: UsageWindow; secondary_window: UsageWindow }
  credits: { has_credits: boolean; unlimited: boolean; balance: string }
} {
  return {
    plan_type: snapshot.plan,
    rate_limit: {
      primary_window: usageWindow(snapshot.primary, snapshot.nowSeconds),
      secondary_window: usageWindow(snapshot.secondary, snapshot.nowSeconds),
    },
    credits: {
      has_credits: snapshot.credits.hasCredits,
      unlimited: snapshot.credits.unlimited,
      balance: snapshot.credits.balance,
    },
  }
}

/** One window of the usage body. */
export interface UsageWindow {
  used_percent: number
  limit_window_seconds: number
  reset_after_seconds: number
  reset_at: number
}

function usageWindow(window: RateLimitWindow, nowSeconds: number): UsageWindow {
  return {
    used_percent: window.usedPercent,
    limit_window_seconds: window.windowMinutes * 60,
    reset_after_seconds: Math.max(0, window.resetAt - nowSeconds),
    reset_at: window.resetAt,
  }
}

/**
 * The window that blocks requests, if any: a window at 100 % or more. When both are exhausted the later reset
 * is the one that matters, since nothing works until both have reset.
 */
export function exhaustedWindow(snapshot: RateLimitSnapshot): RateLimitWindow | null {
  const primary = snapshot.primary.usedPercent >= 100 ? snapshot.primary : null
  const secondary = snapshot.secondary.usedPercent >= 100 ? snapshot.secondary : null
  if (primary && secondary) return primary.resetAt >= secondary.resetAt ? primary : secondary
  return primary ?? secondary
}
