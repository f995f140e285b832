/**
 * What a failed request tells the pool about its account: a usage limit (with its reset time), a sign-in that no
 * longer works, an upstream fault (5xx, network, a Cloudflare challenge, a cut stream: the circuit breaker counts
 * these), or a request the upstream refused for what it asked (a bad body, an unsupported model: no fault of the
 * account). A client that went away is not an outcome at all; the caller cancels the lease instead.
 */
import { isBrokerError } from '../lib/index.js'
import { UpstreamError } from '../upstream/index.js'
import type { RequestOutcome } from './types.js'

/**
 * The outcome of a request that threw `error`.
 * @example
 * await lease.report(outcomeOf(error))
 */
export function outcomeOf(error: unknown): RequestOutcome {
  if (error instanceof UpstreamError) {
    if (error.code === 'ERR_UPSTREAM_RATE_LIMITED') {
      const resetsAt = error.details.resetsAt
      return { kind: 'usage_limit', resetsAt: resetsAt === null ? null : resetsAt * 1000 }
    }
    const status = error.details.status
    // 400, 404, 413, 422 …: the request was refused for what it asked. 401/403 (a challenge) are the account's.
    const refusedRequest =
      status !== null && status >= 400 && status < 500 && status !== 401 && status !== 403
    if (error.code === 'ERR_MODEL_UNSUPPORTED' || refusedRequest) return { kind: 'client_error' }
    return { kind: 'failure' }
  }
  if (
    isBrokerError(error, 'ERR_NEEDS_LOGIN') ||
    isBrokerError(error, 'ERR_REFRESH_REUSED') ||
    isBrokerError(error, 'ERR_REFRESH_EXPIRED') ||
    isBrokerError(error, 'ERR_REFRESH_REVOKED') ||
    isBrokerError(error, 'ERR_REFRESH_FAILED')
  ) {
    return { kind: 'needs_login' }
  }
  return { kind: 'failure' }
}
