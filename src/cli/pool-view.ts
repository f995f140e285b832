/**
 * How the command line shows an account's place in the pool: pinned, cooling down until when, paused after
 * failures, being re-tested, or nothing at all when it is simply usable. Shared by `accounts` and `status`, as text
 * for the table and as plain fields for `--json`.
 */
import {
  AccountPool,
  FilePoolStateStore,
  formatResetTime,
  type PoolAccountView,
} from '../accounts/index.js'
import type { CredentialStore } from '../store/index.js'

/** The pool's view of every account in the home (health from quota.json, the pin). */
export async function poolViews(
  home: string,
  store: CredentialStore,
): Promise<Map<string, PoolAccountView>> {
  const state = new FilePoolStateStore({ home })
  try {
    const views = await new AccountPool({ store, state }).snapshot()
    return new Map(views.map((view) => [view.account.id, view]))
  } finally {
    await state.close()
  }
}

/**
 * The POOL column: `pinned`, `rate-limited until 14:05 UTC`, `paused until …`, `re-testing`, or `-`.
 * @example
 * poolText(view, Date.now()) // 'pinned, rate-limited until 14:05 UTC'
 */
export function poolText(view: PoolAccountView | undefined, now: number): string {
  if (view === undefined) return '-'
  const parts: string[] = []
  if (view.pinned) parts.push('pinned')
  const unusable = view.unusable
  if (unusable?.kind === 'cooling') {
    const why = unusable.reason === 'usage_limit' ? 'rate-limited' : 'quota used up'
    parts.push(`${why} until ${formatResetTime(unusable.until, now)}`)
  } else if (unusable?.kind === 'circuit_open') {
    parts.push(`paused after failures until ${formatResetTime(unusable.until, now)}`)
  } else if (unusable?.kind === 'probing') {
    parts.push('re-testing')
  }
  return parts.length === 0 ? '-' : parts.join(', ')
}

/** The pool fields of an account for `--json`. */
export function poolJson(view: PoolAccountView | undefined) {
  if (view === undefined) return null
  const { health } = view
  return {
    pinned: view.pinned,
    usable: view.unusable === null,
    unusable: view.unusable,
    cooldownUntil:
      health.cooldownUntil === null ? null : new Date(health.cooldownUntil).toISOString(),
    cooldownReason: health.cooldownReason,
    consecutiveFailures: health.consecutiveFailures,
    quota: health.quota,
  }
}
