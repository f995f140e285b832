/**
 * Sessions in this process's memory: the default for a single instance. Records expire by the injected clock;
 * expired ones are dropped when read and swept every so many writes, and past `maxSessions` the oldest record
 * goes first, so a flood of anonymous sessions cannot grow the heap without bound.
 */
import { type Clock, systemClock } from '../lib/index.js'
import type { SessionStore } from './session-store.js'
import type { WebSession } from './web-session.js'

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /** At most this many sessions (default 100,000); the oldest is evicted first. */
  readonly maxSessions?: number
  readonly clock?: Clock
}

interface Entry {
  readonly session: WebSession
  readonly expiresAt: number
}

const SWEEP_EVERY_WRITES = 1024

/**
 * The in-memory store.
 * @example
 * const handler = createCodexHandler({ cookieSecret, sessionStore: new MemorySessionStore() })
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, Entry>()
  readonly #runSlots = new Map<string, { readonly token: object; readonly expiresAt: number }>()
  readonly #max: number
  readonly #clock: Clock
  #writes = 0

  constructor(options: MemorySessionStoreOptions = {}) {
    this.#max = options.maxSessions ?? 100_000
    this.#clock = options.clock ?? systemClock
  }

  /** Sessions held (expired ones not yet swept included). */
  get size(): number {
    return this.#sessions.size
  }

  get(key: string): Promise<WebSession | null> {
    const entry = this.#sessions.get(key)
    if (entry === undefined) return Promise.resolve(null)
    if (entry.expiresAt <= this.#clock.now()) {
      this.#sessions.delete(key)
      return Promise.resolve(null)
    }
    return Promise.resolve(entry.session)
  }

  set(key: string, session: WebSession, ttlMs: number): Promise<void> {
    this.#sessions.delete(key)
    this.#sessions.set(key, { session, expiresAt: this.#clock.now() + ttlMs })
    this.#writes += 1
    if (this.#writes % SWEEP_EVERY_WRITES === 0) this.#sweep()
    while (this.#sessions.size > this.#max) {
      const oldest = this.#sessions.keys().next()
      if (oldest.done === true) break
      this.#sessions.delete(oldest.value)
    }
    return Promise.resolve()
  }

  delete(key: string): Promise<void> {
    this.#sessions.delete(key)
    this.#runSlots.delete(key)
    return Promise.resolve()
  }

  acquireRunSlot(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const now = this.#clock.now()
    const held = this.#runSlots.get(key)
    if (held !== undefined && held.expiresAt > now) return Promise.resolve(null)
    const token = {}
    this.#runSlots.set(key, { token, expiresAt: now + ttlMs })
    return Promise.resolve(() => {
      if (this.#runSlots.get(key)?.token === token) this.#runSlots.delete(key)
      return Promise.resolve()
    })
  }

  #sweep(): void {
    const now = this.#clock.now()
    for (const [key, entry] of this.#sessions) {
      if (entry.expiresAt <= now) this.#sessions.delete(key)
    }
    for (const [key, slot] of this.#runSlots) {
      if (slot.expiresAt <= now) this.#runSlots.delete(key)
    }
  }
}
