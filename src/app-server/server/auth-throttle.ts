/**
 * The app-server's throttle on failed upgrade authentications (SECURITY.md WS-11): per remote address, the
 * failures of a sliding window are counted; once an address has `maxFailures` in the window, its next failed
 * attempt is answered 429 with a `Retry-After` instead of 401. It never refuses valid credentials: every local
 * client shares 127.0.0.1, so locking the address out would lock the good client out with the attacker. Memory is
 * bounded: at most `maxFailures` timestamps per address and `maxAddresses` addresses (the least recently failing
 * one is forgotten first).
 */

/** Options of {@link AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Failures per address in the window before 429. */
  readonly maxFailures: number
  readonly windowMs: number
  /** Addresses remembered at once; default 10,000. */
  readonly maxAddresses?: number
  /** Default `Date.now`. */
  readonly now?: () => number
}

/** The default cap on remembered addresses. */
export const DEFAULT_MAX_THROTTLED_ADDRESSES = 10_000

/**
 * Counts failed authentications per address.
 * @example
 * const throttle = new AuthThrottle({ maxFailures: 20, windowMs: 10_000 })
 * const retryAfter = throttle.recordFailure('127.0.0.1') // null → answer 401; a number → 429, Retry-After
 * @see https://www.rfc-editor.org/rfc/rfc6585#section-4
 */
export class AuthThrottle {
  readonly #maxFailures: number
  readonly #windowMs: number
  readonly #maxAddresses: number
  readonly #now: () => number
  /** Failure times per address, oldest first; the Map's order is least recently failing first. */
  readonly #failures = new Map<string, number[]>()

  constructor(options: AuthThrottleOptions) {
    this.#maxFailures = Math.max(1, options.maxFailures)
    this.#windowMs = options.windowMs
    this.#maxAddresses = options.maxAddresses ?? DEFAULT_MAX_THROTTLED_ADDRESSES
    this.#now = options.now ?? Date.now
  }

  /** Addresses remembered now (for tests of the memory bound). */
  get size(): number {
    return this.#failures.size
  }

  /**
   * Records one failed authentication of `address`. Returns null when the address was under the threshold (answer
   * 401), or the seconds until a failure leaves the window (answer 429 with that `Retry-After`). Failures answered
   * 429 count too, so an attacker that keeps going stays throttled.
   */
  recordFailure(address: string): number | null {
    const now = this.#now()
    const since = now - this.#windowMs
    const times = (this.#failures.get(address) ?? []).filter((time) => time > since)
    const throttled = times.length >= this.#maxFailures
    times.push(now)
    while (times.length > this.#maxFailures) times.shift()
    this.#failures.delete(address)
    this.#failures.set(address, times)
    this.#evict()
    if (!throttled) return null
    const oldest = times[0] ?? now
    return Math.max(1, Math.ceil((oldest + this.#windowMs - now) / 1000))
  }

  #evict(): void {
    for (const address of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxAddresses) return
      this.#failures.delete(address)
    }
  }
}
