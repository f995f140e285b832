/**
 * Picks one account among the candidates for a request, by strategy (DESIGN.md "The account pool"): `sticky`
 * stays on one account until it cannot be used (the safest for the account and the prompt cache), `round-robin`
 * takes turns, `least-used` goes to the most quota headroom, `pinned` uses exactly one account or none. It holds
 * the little in-process state the strategies need (the current account, when it last changed), takes the time
 * as `now` and does no I/O, so the same inputs and history always give the same pick.
 */
import type { QuotaSnapshot } from '../upstream/index.js'
import type { Candidate, PoolStrategy } from './types.js'

/** Options of {@link AccountSelector}. */
export interface AccountSelectorOptions {
  /**
   * `round-robin` and `least-used` keep the last account while it is usable until this long after they last
   * switched (default 0: switch on every pick). Rotating fast between many accounts can get them flagged.
   */
  readonly minRotationIntervalMs?: number
}

/**
 * The selection state of one pool in one process.
 * @example
 * const selector = new AccountSelector('round-robin', { minRotationIntervalMs: 60_000 })
 * const candidate = selector.pick(candidates, clock.now(), await state.pinned())
 * if (candidate === null) throw poolExhaustedError(candidates, now, { strategy: selector.strategy, pinned })
 */
export class AccountSelector {
  /** The strategy this selector applies. */
  readonly strategy: PoolStrategy
  readonly #minRotationIntervalMs: number
  /** The account picked last (its id and order, so rotation continues even if it left the list). */
  #last: { readonly accountId: string; readonly order: number } | null = null
  /** When the pick last moved to another account. */
  #switchedAt = 0

  constructor(strategy: PoolStrategy, options: AccountSelectorOptions = {}) {
    const interval = options.minRotationIntervalMs ?? 0
    if (!Number.isFinite(interval) || interval < 0) {
      throw new RangeError(`minRotationIntervalMs must be a finite number >= 0, got ${interval}`)
    }
    this.strategy = strategy
    this.#minRotationIntervalMs = interval
  }

  /**
   * The candidate for the next request, or null when none can be used. `pinned` is the pinned account id; only
   * the `pinned` strategy reads it (and with it null, nothing is picked).
   * @example
   * selector.pick(candidates, now, null)?.accountId // 'acc_1'
   */
  pick(candidates: readonly Candidate[], now: number, pinned: string | null): Candidate | null {
    const usable = candidates.filter((candidate) => candidate.unusable === null).sort(byOrder)
    const chosen = this.#choose(usable, now, pinned)
    if (chosen !== null) this.#remember(chosen, now)
    return chosen
  }

  #choose(usable: readonly Candidate[], now: number, pinned: string | null): Candidate | null {
    switch (this.strategy) {
      case 'pinned':
        return usable.find((candidate) => candidate.accountId === pinned) ?? null
      case 'sticky':
        return this.#lastIn(usable) ?? this.#after(usable)
      case 'round-robin':
        return this.#kept(usable, now) ?? this.#after(usable)
      case 'least-used':
        return this.#kept(usable, now) ?? mostHeadroom(usable, now)
    }
  }

  /** The last pick while the rotation interval holds it. */
  #kept(usable: readonly Candidate[], now: number): Candidate | null {
    return now - this.#switchedAt < this.#minRotationIntervalMs ? this.#lastIn(usable) : null
  }

  #lastIn(usable: readonly Candidate[]): Candidate | null {
    const last = this.#last
    return last === null ? null : (usable.find((c) => c.accountId === last.accountId) ?? null)
  }

  /** The first usable after the last pick by order, wrapping; the first by order when nothing was picked. */
  #after(usable: readonly Candidate[]): Candidate | null {
    const last = this.#last
    if (last === null) return usable[0] ?? null
    return (
      usable.find(
        (c) => c.order > last.order || (c.order === last.order && c.accountId > last.accountId),
      ) ??
      usable[0] ??
      null
    )
  }

  #remember(chosen: Candidate, now: number): void {
    if (this.#last?.accountId !== chosen.accountId) this.#switchedAt = now
    this.#last = { accountId: chosen.accountId, order: chosen.order }
  }
}

function byOrder(a: Candidate, b: Candidate): number {
  if (a.order !== b.order) return a.order - b.order
  return a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0
}

/** Lowest used percent of the fuller window; then least recently picked (never first); then order. */
function mostHeadroom(usable: readonly Candidate[], now: number): Candidate | null {
  let best: Candidate | null = null
  for (const candidate of usable) {
    if (best === null || compareHeadroom(candidate, best, now) < 0) best = candidate
  }
  return best
}

function compareHeadroom(a: Candidate, b: Candidate, now: number): number {
  const used = usedPercent(a.health.quota, now) - usedPercent(b.health.quota, now)
  if (used !== 0) return used
  if (a.lastPickedAt !== b.lastPickedAt) {
    if (a.lastPickedAt === null) return -1
    if (b.lastPickedAt === null) return 1
    return a.lastPickedAt - b.lastPickedAt
  }
  return byOrder(a, b)
}

/** The fuller window's used percent; no reading, or a window whose reset has passed, counts as 0 %. */
function usedPercent(quota: QuotaSnapshot | null, now: number): number {
  let used = 0
  for (const window of [quota?.primary, quota?.secondary]) {
    if (window == null) continue
    const reset = window.resetsAt !== null && window.resetsAt <= now
    if (!reset) used = Math.max(used, window.usedPercent)
  }
  return used
}
