/**
 * Reads the `x-codex-*` rate-limit headers that ride on every backend answer (PROTOCOL.md §7) into a quota
 * snapshot: the short (5-hour) and long (7-day) windows and the credits. Headers are upstream input, so a
 * missing or garbled value becomes `null` — never `NaN`, never a guess — and a window without a readable
 * used-percent is absent altogether.
 */

/** Response headers as `fetch` (`Headers`) or undici / `node:http` (a plain record) give them. */
export type HeaderSource = Headers | Readonly<Record<string, string | string[] | undefined>>

/** One rate-limit window. */
export interface QuotaWindow {
  /** 0–100 (may exceed 100 when over the limit). */
  usedPercent: number
  windowMinutes: number | null
  /** Unix milliseconds. */
  resetsAt: number | null
}

/** The credits of the account. */
export interface QuotaCredits {
  hasCredits: boolean
  unlimited: boolean
  /** As the backend writes it (a decimal string), or null. */
  balance: string | null
}

/** What one answer said about the account's limits. */
export interface QuotaSnapshot {
  /** The short (5-hour) window. */
  primary: QuotaWindow | null
  /** The long (7-day) window. */
  secondary: QuotaWindow | null
  credits: QuotaCredits | null
  /** Unix milliseconds of the reading. */
  observedAt: number
}

const NUMBER = /^[0-9]+(?:\.[0-9]+)?$/
const BALANCE = /^-?[0-9]+(?:\.[0-9]+)?$/

/**
 * The quota snapshot in `headers`.
 * @example
 * const quota = quotaFromHeaders(response.headers)
 * if ((quota.primary?.usedPercent ?? 0) >= 90) warn('5-hour window almost used up')
 */
export function quotaFromHeaders(headers: HeaderSource, now: number = Date.now()): QuotaSnapshot {
  return {
    primary: window(headers, 'primary'),
    secondary: window(headers, 'secondary'),
    credits: credits(headers),
    observedAt: now,
  }
}

/** True when the snapshot says nothing at all (no `x-codex-*` header was readable). */
export function isEmptyQuota(quota: QuotaSnapshot): boolean {
  return quota.primary === null && quota.secondary === null && quota.credits === null
}

function window(headers: HeaderSource, name: 'primary' | 'secondary'): QuotaWindow | null {
  const usedPercent = number(header(headers, `x-codex-${name}-used-percent`))
  if (usedPercent === null) return null
  const minutes = number(header(headers, `x-codex-${name}-window-minutes`))
  const resetAt = number(header(headers, `x-codex-${name}-reset-at`))
  return {
    usedPercent,
    windowMinutes: minutes,
    resetsAt: resetAt === null ? null : Math.round(resetAt * 1000),
  }
}

function credits(headers: HeaderSource): QuotaCredits | null {
  const hasCredits = boolean(header(headers, 'x-codex-credits-has-credits'))
  const unlimited = boolean(header(headers, 'x-codex-credits-unlimited'))
  if (hasCredits === null && unlimited === null) return null
  const balance = header(headers, 'x-codex-credits-balance')?.trim() ?? null
  return {
    hasCredits: hasCredits ?? false,
    unlimited: unlimited ?? false,
    balance: balance !== null && BALANCE.test(balance) ? balance : null,
  }
}

function header(headers: HeaderSource, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name)
  const value = headers[name]
  if (Array.isArray(value)) return value.length === 1 ? (value[0] ?? null) : null
  return value ?? null
}

function number(value: string | null): number | null {
  if (value === null) return null
  const trimmed = value.trim()
  if (!NUMBER.test(trimmed)) return null
  const parsed = Number(trimmed)
  return Number.isFinite(parsed) ? parsed : null
}

function boolean(value: string | null): boolean | null {
  const normal = value?.trim().toLowerCase()
  if (normal === 'true') return true
  if (normal === 'false') return false
  return null
}
