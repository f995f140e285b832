/**
 * A minimal unbounded async queue: a producer pushes values and finally closes it, one consumer awaits them in
 * order. It decouples a run's lifecycle (the process, the read-back, the cleanup) from its reader: the lifecycle
 * runs to the end even when the reader stops reading or goes away. The producer bounds what it pushes (the
 * runner caps the CLI's output), so the queue itself needs no limit.
 */

/**
 * A queue of values that ends with `close()`.
 *
 * @example
 * const queue = new EventQueue<string>()
 * queue.push('a')
 * queue.close()
 * await queue.next() // 'a'
 * await queue.next() // null: closed and drained
 */
export class EventQueue<T> {
  readonly #items: T[] = []
  #closed = false
  #wake: (() => void) | null = null

  /** Adds a value (ignored once closed). */
  push(value: T): void {
    if (this.#closed) return
    this.#items.push(value)
    this.#notify()
  }

  /** Ends the queue: `next()` answers null once the values pushed before are taken. */
  close(): void {
    this.#closed = true
    this.#notify()
  }

  /** The next value, waiting for one; null when the queue is closed and empty. */
  async next(): Promise<T | null> {
    for (;;) {
      if (this.#items.length > 0) return this.#items.shift() ?? null
      if (this.#closed) return null
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}
