/**
 * Turns a failed backend answer into a `BrokerError` the user can act on: a 401 (sign in or refresh), a
 * Cloudflare challenge (back off, never loop), a usage limit with its reset time, a model the plan does not
 * include, a redirect (never followed) or an unavailable service. The upstream body is read only to classify
 * it; it never reaches a message, since it may echo our headers (SECURITY.md C2.8). What a caller needs to
 * recover — refresh once, wait until a time, retry — rides on {@link UpstreamError}'s typed `details`.
 */
import { BrokerError, type BrokerErrorCode, type BrokerErrorOptions } from '../lib/index.js'
import type { QuotaSnapshot } from './quota-snapshot.js'

/**
 * How a caller may recover: `refresh` the access token and retry once (a backend 401), `wait` until
 * `resetsAt` or a while (usage limit, challenge), `retry` later (unavailable), or `none`.
 */
export type UpstreamRecovery = 'refresh' | 'wait' | 'retry' | 'none'

/** The structured facts of an upstream failure (no upstream text, no secret). */
export interface UpstreamErrorDetails {
  /** The upstream HTTP status, or null when no answer came (network, timeout). */
  status: number | null
  recovery: UpstreamRecovery
  /** Unix seconds when a usage limit resets, when known. */
  resetsAt: number | null
  /** The quota headers of the failed answer, when it had any. */
  quota: QuotaSnapshot | null
  /** The model the request named, for `ERR_MODEL_UNSUPPORTED`. */
  model: string | null
}

/**
 * A `BrokerError` from an upstream call, with {@link UpstreamErrorDetails}.
 * @example
 * if (error instanceof UpstreamError && error.details.recovery === 'refresh') await tokens.refresh()
 */
export class UpstreamError extends BrokerError {
  /** What the caller needs to recover. */
  readonly details: UpstreamErrorDetails

  constructor(
    code: BrokerErrorCode,
    message: string,
    details: Partial<UpstreamErrorDetails> = {},
    options: BrokerErrorOptions = {},
  ) {
    super(code, message, options)
    this.details = {
      status: details.status ?? null,
      recovery: details.recovery ?? 'none',
      resetsAt: details.resetsAt ?? null,
      quota: details.quota ?? null,
      model: details.model ?? null,
    }
  }
}

/** What {@link classifyUpstreamFailure} looks at. */
export interface UpstreamFailure {
  status: number
  headers: Headers
  /** The start of the answer's body (read only to classify it). */
  bodyText: string
  /** Names the call in the message, e.g. "Codex responses". */
  what: string
  /** Whether a 401 can be recovered by refreshing the access token (false for an API key). */
  refreshable: boolean
  /** The model the request named (taken from our request, never from the upstream text). */
  model?: string | null
  quota?: QuotaSnapshot | null
}

const MODEL_UNSUPPORTED = /not supported when using codex with a chatgpt account/i
const SAFE_MODEL = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/

/**
 * Classifies a non-2xx answer.
 * @example
 * if (status >= 300) throw classifyUpstreamFailure({ status, headers, bodyText, what: 'Codex responses', refreshable: true })
 */
export function classifyUpstreamFailure(failure: UpstreamFailure): UpstreamError {
  const { status, what } = failure
  const base = { status, quota: failure.quota ?? null }
  if (status === 401) {
    return failure.refreshable
      ? new UpstreamError(
          'ERR_UPSTREAM_UNAUTHORIZED',
          `The backend refused the access token (${what}).`,
          { ...base, recovery: 'refresh' },
          {
            hint: 'codex-broker refreshes and retries once; if this persists, sign in again: codex-broker login',
          },
        )
      : new UpstreamError(
          'ERR_UPSTREAM_UNAUTHORIZED',
          `The API refused the key (${what}).`,
          { ...base, recovery: 'none' },
          { hint: 'Check the API key; it may be wrong, revoked or for another project.' },
        )
  }
  if (isCloudflareChallenge(failure, failure.bodyText)) {
    return new UpstreamError(
      'ERR_UPSTREAM_CHALLENGE',
      `Blocked by a Cloudflare challenge (${what}).`,
      { ...base, recovery: 'wait' },
      { hint: 'Wait a few minutes before trying again; retrying at once makes it worse.' },
    )
  }
  if (status === 429) {
    const { resetsAt } = usageLimitInfo(failure.bodyText)
    const when = resetsAt === null ? 'later' : `after ${new Date(resetsAt * 1000).toISOString()}`
    return new UpstreamError(
      'ERR_UPSTREAM_RATE_LIMITED',
      `The usage limit has been reached (${what}).`,
      { ...base, recovery: 'wait', resetsAt },
      { hint: `Try again ${when}, or add another account.` },
    )
  }
  if (status === 400 && MODEL_UNSUPPORTED.test(failure.bodyText)) {
    const model = failure.model != null && SAFE_MODEL.test(failure.model) ? failure.model : null
    const named = model === null ? 'The requested model' : `The model '${model}'`
    return new UpstreamError(
      'ERR_MODEL_UNSUPPORTED',
      `${named} is not available with this ChatGPT account's plan (${what}).`,
      { ...base, model },
      { hint: 'Pick a model the plan includes (GET /v1/models lists them).' },
    )
  }
  if (status >= 300 && status < 400) {
    return new UpstreamError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The backend answered a redirect (${String(status)}) to ${what}; it is not followed.`,
      base,
    )
  }
  if (status >= 500) {
    return new UpstreamError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `The backend is unavailable (${what}: HTTP ${String(status)}).`,
      { ...base, recovery: 'retry' },
      { hint: 'Try again in a moment.' },
    )
  }
  return new UpstreamError(
    'ERR_UPSTREAM_BAD_RESPONSE',
    `The backend refused the request (${what}: HTTP ${String(status)}).`,
    base,
  )
}

/** The reset time of a 429 `usage_limit_reached`, when the body says it. */
export interface UsageLimitInfo {
  /** Unix seconds. */
  resetsAt: number | null
  planType: string | null
}

/** True when a 403 is Cloudflare's challenge page rather than an API answer. */
export function isCloudflareChallenge(
  response: { status: number; headers: Headers },
  bodyText: string,
): boolean {
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
export function upstreamError(response: Response, bodyText: string, what: string): UpstreamError {
  return classifyUpstreamFailure({
    status: response.status,
    headers: response.headers,
    bodyText,
    what,
    refreshable: true,
  })
}
