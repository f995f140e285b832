/**
 * Time as an injected dependency (DESIGN.md: "Time, randomness and the network are injected").
 * `Clock` has two operations, `now()` in epoch milliseconds and an abortable `sleep()`.
 * `systemClock` is the real one; `ManualClock` is for tests: time stands still until `advance()`
 * moves it, and sleepers wake in due-time order (ties in the order they went to sleep). An aborted
 * sleep rejects with the signal's reason when it is an `Error`, otherwise with an `AbortError`
 * whose `cause` is the reason.
 */

/** A source of time. */
export interface Clock {
  /** The current time in milliseconds since the Unix epoch. */
  now(): number
  /** Resolves after `ms` milliseconds of this clock's time; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/** The longest delay one `setTimeout` accepts; longer sleeps are chained. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * The error an aborted sleep rejects with.
 *
 * @example
 * controller.abort(); await clock.sleep(10, controller.signal) // rejects with abortReason(signal)
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error) return reason
  const error = new Error('The operation was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}

function nanDelay(): RangeError {
  return new RangeError('sleep: ms must be a number, got NaN')
}

/**
 * The real clock: `Date.now()` and timers.
 *
 * @example
 * await systemClock.sleep(250, request.signal)
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (Number.isNaN(ms)) {
        reject(nanDelay())
        return
      }
      const delay = Math.max(0, ms)
      if (signal?.aborted === true) {
        reject(abortReason(signal))
        return
      }
      let timer: NodeJS.Timeout | undefined
      let remaining = delay
      const onAbort = () => {
        clearTimeout(timer)
        if (signal !== undefined) reject(abortReason(signal))
      }
      const arm = () => {
        if (remaining === Infinity) return
        const step = Math.min(remaining, MAX_TIMER_MS)
        remaining -= step
        timer = setTimeout(() => {
          if (remaining > 0) {
            arm()
            return
          }
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }, step)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      arm()
    }),
}

interface Sleeper {
  readonly dueAt: number
  readonly seq: number
  readonly wake: () => void
}

/**
 * A clock for tests: time moves only when told.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'))
 * const done = clock.sleep(1000)
 * clock.advance(1000) // `done` resolves
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #sleepers: Sleeper[] = []

  /** Starts at `startMs` (epoch milliseconds, default 0). */
  constructor(startMs = 0) {
    this.#now = startMs
  }

  /** The current manual time. */
  now(): number {
    return this.#now
  }

  /** How many sleeps are waiting. */
  get pendingSleepers(): number {
    return this.#sleepers.length
  }

  /** Waits until `advance` reaches `now() + ms` (a zero or negative delay resolves at once). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (Number.isNaN(ms)) return Promise.reject(nanDelay())
    const delay = Math.max(0, ms)
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    if (delay === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((entry) => entry !== sleeper)
        if (signal !== undefined) reject(abortReason(signal))
      }
      const sleeper: Sleeper = {
        dueAt: this.#now + delay,
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      this.#sleepers.push(sleeper)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Moves time forward by `ms`, waking every sleeper due by then in due order; `now()` equals each
   * sleeper's due time as it is woken and the target afterwards. Continuations run after this
   * returns (when `now()` is already the target); use {@link advanceAsync} when they matter.
   */
  advance(ms: number): void {
    const target = this.#target(ms)
    for (let next = this.#takeDue(target); next !== undefined; next = this.#takeDue(target)) {
      this.#now = next.dueAt
      next.wake()
    }
    this.#now = target
  }

  /**
   * Like {@link advance}, but lets each woken sleeper's continuation run (one macrotask turn)
   * before the next wakes, so sleeps scheduled by those continuations within the window fire
   * too, and each continuation sees `now()` at its own due time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#target(ms)
    for (let next = this.#takeDue(target); next !== undefined; next = this.#takeDue(target)) {
      this.#now = next.dueAt
      next.wake()
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    this.#now = target
  }

  #target(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`advance: ms must be a finite number >= 0, got ${ms}`)
    }
    return this.#now + ms
  }

  #takeDue(target: number): Sleeper | undefined {
    let best: Sleeper | undefined
    for (const sleeper of this.#sleepers) {
      if (sleeper.dueAt > target) continue
      if (
        best === undefined ||
        sleeper.dueAt < best.dueAt ||
        (sleeper.dueAt === best.dueAt && sleeper.seq < best.seq)
      ) {
        best = sleeper
      }
    }
    if (best !== undefined) this.#sleepers = this.#sleepers.filter((entry) => entry !== best)
    return best
  }
}
