/**
 * Where the web handler keeps sessions: memory (one instance, the default) or Redis (several instances behind a
 * load balancer). Keys are the SHA-256 of the session id, so a store dump holds nothing a browser could present,
 * and each record expires on its own (the absolute timeout) even if nobody deletes it. The run slot gives each
 * session one run at a time across every instance that shares the store.
 */
import type { WebSession } from './web-session.js'

/** A session store. */
export interface SessionStore {
  /** The session under `key`, or null when absent or expired. */
  get(key: string): Promise<WebSession | null>
  /** Stores `session` under `key` for `ttlMs` milliseconds. */
  set(key: string, session: WebSession, ttlMs: number): Promise<void>
  /** Removes the session (and its run slot). */
  delete(key: string): Promise<void>
  /**
   * Takes the session's run slot for at most `ttlMs` (a crashed instance's slot frees itself); false when another
   * run holds it. The returned release frees it only if it is still this run's.
   */
  acquireRunSlot(key: string, ttlMs: number): Promise<(() => Promise<void>) | null>
}
