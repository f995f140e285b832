/**
 * Turns a failed backend answer into a `BrokerError` the user can act on: a 401 (sign in or refresh), a
 * Cloudflare challenge (back off, never loop), a usage limit with its reset time, or an unavailable service.
 * The upstream body is read only to classify it; it never reaches a message, since it may echo our headers.
 */
import { BrokerError } from '../lib/index.js'

/** The reset time of a 429 `usage_limit_reached`, when the body says it. */
export interface UsageLimitInfo {
  /** Unix seconds. */
  resetsAt: number | null
  planType: string | null
}

/** True when a 403 is Cloudflare's challenge page rather than an API answer. */
export function isCloudflareChallenge(response: Response, bodyText: string): boolean {
  if (response.status !== 403) return false
  if (response.headers.get('cf-mitigated') === 'challenge') return true
  const type = response.headers.get('content-type') ?? ''
  return type.includes('text/html') && /just a moment|challenge-form|cf-chl/i.test(bodyText)
}

/** Reads `resets_at` and `plan_type` from a 429 body. */
export function usageLimitInfo(bodyText: string): UsageLimitInfo {
  try {
    const body = JSON.parse(bodyText) as { error?: { resets_at?: unknown; plan_type?: unknown } }
    const resetsAt = body.error?.resets_at
    const planType = body.error?.plan_type
    return {
      resetsAt: typeof resetsAt === 'number' && Number.isFinite(resetsAt) ? resetsAt : null,
      planType: typeof planType === 'string' ? planType : null,
    }
  } catch {
    return { resetsAt: null, planType: null }
  }
}

/** The error for a non-2xx backend answer; `what` names the call, e.g. "usage". */
export function upstreamError(response: Response, bodyText: string, what: string): BrokerError {
  const status = response.status
  if (status === 401) {
    return new BrokerError(
      'ERR_UPSTREAM_UNAUTHORIZED',
      `The backend refused the access token (${what}).`,
      {
        hint: 'codex-broker refreshes and retries once; if this persists, sign in again: codex-broker login',
      },
    )
  }
  if (isCloudflareChallenge(response, bodyText)) {
    return new BrokerError(
      'ERR_UPSTREAM_CHALLENGE',
      `Blocked by a Cloudflare challenge (${what}).`,
      {
        hint: 'Wait a few minutes before trying again; retrying at once makes it worse.',
      },
    )
  }
  if (status === 429) {
    const { resetsAt } = usageLimitInfo(bodyText)
    const when = resetsAt === null ? 'later' : `after ${new Date(resetsAt * 1000).toISOString()}`
    return new BrokerError(
      'ERR_UPSTREAM_RATE_LIMITED',
      `The usage limit has been reached (${what}).`,
      {
        hint: `Try again ${when}, or add another account.`,
      },
    )
  }
  if (status >= 300 && status < 400) {
    return new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The backend answered a redirect (${String(status)}) to ${what}; it is not followed.`,
    )
  }
  if (status >= 500) {
    return new BrokerError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `The backend is unavailable (${what}: HTTP ${String(status)}).`,
      { hint: 'Try again in a moment.' },
    )
  }
  return new BrokerError(
    'ERR_UPSTREAM_BAD_RESPONSE',
    `The backend refused the request (${what}: HTTP ${String(status)}).`,
  )
}
