/**
 * `GET {backend}/wham/usage`: the account's plan, its two rate-limit windows (5 hours and 7 days) and credits
 * (PROTOCOL.md §7). `codex-broker status` shows it; the account pool will keep it as a quota snapshot.
 */
import { z } from 'zod'
import { BrokerError, type Secret } from '../lib/index.js'
import { codexHeaders, type ClientIdentity } from './codex-headers.js'
import { upstreamError } from './upstream-error.js'

const windowSchema = z
  .object({
    used_percent: z.number(),
    limit_window_seconds: z.number(),
    reset_after_seconds: z.number(),
    reset_at: z.number(),
  })
  .loose()

const usageSchema = z
  .object({
    plan_type: z.string(),
    rate_limit: z
      .object({ primary_window: windowSchema.nullish(), secondary_window: windowSchema.nullish() })
      .loose()
      .nullish(),
    credits: z
      .object({
        has_credits: z.boolean(),
        unlimited: z.boolean(),
        balance: z.union([z.string(), z.number()]).nullish(),
      })
      .loose()
      .nullish(),
  })
  .loose()

/** One rate-limit window. */
export interface UsageWindow {
  usedPercent: number
  windowMinutes: number
  /** Unix milliseconds. */
  resetsAt: number
}

/** What `/wham/usage` says about an account. */
export interface UsageSnapshot {
  planType: string
  /** The short (5-hour) window. */
  primary: UsageWindow | null
  /** The long (7-day) window. */
  secondary: UsageWindow | null
  credits: { hasCredits: boolean; unlimited: boolean; balance: string | null } | null
}

/** Options of {@link fetchUsage}. */
export interface FetchUsageOptions {
  /** e.g. `https://chatgpt.com/backend-api`. */
  backendBase: string
  accessToken: Secret
  chatgptAccountId: string
  identity: ClientIdentity
  fetch?: typeof fetch
  timeoutMs?: number
}

/**
 * Reads the account's usage.
 * @example
 * const usage = await fetchUsage({ backendBase, accessToken, chatgptAccountId, identity })
 * console.log(usage.primary?.usedPercent)
 */
export async function fetchUsage(options: FetchUsageOptions): Promise<UsageSnapshot> {
  const doFetch = options.fetch ?? fetch
  let response: Response
  let text: string
  try {
    response = await doFetch(`${options.backendBase}/wham/usage`, {
      headers: codexHeaders(options.identity, options, { accept: 'application/json' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    })
    text = await response.text()
  } catch (error) {
    throw new BrokerError('ERR_UPSTREAM_UNAVAILABLE', 'Could not reach the backend for usage.', {
      cause: error,
      hint: 'Check the network (or --backend-url) and try again.',
    })
  }
  if (!response.ok) throw upstreamError(response, text, 'usage')
  let parsed
  try {
    parsed = usageSchema.parse(JSON.parse(text))
  } catch (error) {
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      'The backend sent usage in an unexpected shape.',
      {
        cause: error,
      },
    )
  }
  return {
    planType: parsed.plan_type,
    primary: toWindow(parsed.rate_limit?.primary_window),
    secondary: toWindow(parsed.rate_limit?.secondary_window),
    credits: parsed.credits
      ? {
          hasCredits: parsed.credits.has_credits,
          unlimited: parsed.credits.unlimited,
          balance: parsed.credits.balance == null ? null : String(parsed.credits.balance),
        }
      : null,
  }
}

function toWindow(window: z.output<typeof windowSchema> | null | undefined): UsageWindow | null {
  if (!window) return null
  return {
    usedPercent: window.used_percent,
    windowMinutes: Math.round(window.limit_window_seconds / 60),
    resetsAt: window.reset_at * 1000,
  }
}
