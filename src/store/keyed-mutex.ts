/**
 * An in-process mutual-exclusion queue per key, so that callers in one process wait their turn in order instead
 * of all spinning on the cross-process lock (a lock file or a Redis key). The holder passes the lock straight to
 * the next waiter on release (first come, first served); a waiter that runs out of time leaves the queue and gets
 * the error the caller supplies (`ERR_LOCK_TIMEOUT` naming the lock). Time comes from an injected `Clock`.
 */
import { type Clock, systemClock } from '../lib/index.js'

/** Options of {@link KeyedMutex.acquire}. */
export interface KeyedMutexAcquireOptions {
  /** Give up after this long; default: wait forever. */
  readonly timeoutMs?: number
  /** The error to reject with on timeout. */
  readonly onTimeout: () => Error
}

/**
 * Queues per key.
 *
 * @example
 * const release = await mutex.acquire(accountId, { timeoutMs: 30_000, onTimeout: () => timeoutError() })
 * try { await work() } finally { release() }
 */
export class KeyedMutex {
  readonly #clock: Clock
  /** A key is present while held; its array holds the waiters' wake-up functions. */
  readonly #queues = new Map<string, (() => void)[]>()

  /** Uses `clock` for timeouts (default: the system clock). */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock
  }

  /** Whether `key` is held right now. */
  isHeld(key: string): boolean {
    return this.#queues.has(key)
  }

  /** Waits for `key`; resolves to a release function (idempotent). */
  acquire(key: string, options: KeyedMutexAcquireOptions): Promise<() => void> {
    const waiters = this.#queues.get(key)
    if (waiters === undefined) {
      this.#queues.set(key, [])
      return Promise.resolve(this.#releaser(key))
    }
    return new Promise((resolve, reject) => {
      const controller = new AbortController()
      const wake = () => {
        controller.abort()
        resolve(this.#releaser(key))
      }
      waiters.push(wake)
      if (options.timeoutMs === undefined || options.timeoutMs === Infinity) return
      this.#clock.sleep(Math.max(0, options.timeoutMs), controller.signal).then(
        () => {
          const index = waiters.indexOf(wake)
          if (index < 0) return
          waiters.splice(index, 1)
          reject(options.onTimeout())
        },
        () => undefined,
      )
    })
  }

  /** Runs `task` holding `key`. */
  async run<T>(key: string, task: () => Promise<T>, options: KeyedMutexAcquireOptions): Promise<T> {
    const release = await this.acquire(key, options)
    try {
      return await task()
    } finally {
      release()
    }
  }

  #releaser(key: string): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const waiters = this.#queues.get(key)
      const next = waiters?.shift()
      if (next === undefined) this.#queues.delete(key)
      else next()
    }
  }
}
