/**
 * One upstream call with an account from the pool, failing over before any byte reaches the client: the pool
 * picks an account, the call runs with it, and its outcome goes back to the pool (the quota of a success; a usage
 * limit, a dead sign-in or an upstream fault of a failure). After a failure the next usable account is tried, each
 * at most once, so a rate-limited account costs the client nothing but a few milliseconds. When none is left the
 * client gets the pool's own answer ("2 accounts rate-limited until 14:05, 1 needs sign-in …"), unless a try
 * failed with an upstream fault (5xx, network) and not every account is rate-limited: then that fault. A request
 * the upstream refused for what it asked is not retried elsewhere.
 */
import { outcomeOf, PoolExhaustedError, type AffinityHints } from '../accounts/index.js'
import { isEmptyQuota, type QuotaSnapshot } from '../upstream/index.js'
import type { ChatgptUpstream, PoolUpstream } from './proxy-upstream.js'

/**
 * Runs `call` with the pool's pick, failing over to the next account on an account's failure.
 * @throws {PoolExhaustedError} when no account is usable; the last upstream error when every try failed.
 * @example
 * const answer = await withPooledAccount(upstream, hints, signal, (account) => send(account), (a) => a.quota)
 */
export async function withPooledAccount<T>(
  upstream: PoolUpstream,
  hints: AffinityHints,
  signal: AbortSignal,
  call: (account: ChatgptUpstream) => Promise<T>,
  quotaOf: (result: T) => QuotaSnapshot | null,
): Promise<T> {
  const tried = new Set<string>()
  // Only an upstream fault is kept to answer with: after 429s and dead sign-ins the pool's own error says more
  // (the last needs_login error alone hid "2 accounts rate-limited until …" from the client).
  let lastFault: Error | null = null
  for (;;) {
    let lease
    try {
      lease = await upstream.pool.acquire(hints, { exclude: tried })
    } catch (error) {
      if (error instanceof PoolExhaustedError && lastFault !== null && !error.rateLimited) {
        throw lastFault
      }
      throw error
    }
    tried.add(lease.accountId)
    const account: ChatgptUpstream = {
      kind: 'chatgpt',
      tokens: upstream.tokens,
      accountId: lease.accountId,
      backend: upstream.backend,
    }
    try {
      const result = await call(account)
      const quota = quotaOf(result)
      await lease.report({
        kind: 'success',
        quota: quota === null || isEmptyQuota(quota) ? null : quota,
      })
      return result
    } catch (error) {
      if (signal.aborted) {
        lease.cancel()
        throw error
      }
      const outcome = outcomeOf(error)
      await lease.report(outcome)
      if (outcome.kind === 'client_error') throw error
      if (outcome.kind === 'failure')
        lastFault = error instanceof Error ? error : new Error(String(error))
    }
  }
}
