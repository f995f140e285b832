/**
 * Sessions as the routes see them (SECURITY.md C4.3–C4.5, BR-02…BR-10): the cookie is verified before the store is
 * asked; a forged, unknown, idle-expired or absolutely-expired session is "invalid" and never adopted (OWASP strict
 * mode) — only `POST /session` turns that into a fresh anonymous session, under a new id. Store keys are the
 * SHA-256 of the id. The idle timer is refreshed at most once per {@link touchIntervalMs} so a busy session does
 * not cost a store write per request, and every record's store lifetime ends at its idle or absolute deadline,
 * whichever is first, so an abandoned session disappears on its own.
 */
import { sha256Hex } from '../lib/index.js'
import type { HandlerSettings } from './handler-options.js'
import {
  clearSessionSetCookie,
  cookieValue,
  newSessionId,
  sessionCookieName,
  sessionSetCookie,
} from './session-cookie.js'
import type { WebRequest } from './web-answer.js'
import type { WebSession } from './web-session.js'

/** What a request's cookie names. */
export type LoadedSession =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'live'; readonly key: string; readonly session: WebSession }

/**
 * The longest the idle timer may lag: a tenth of the idle timeout, at most a minute.
 * @example
 * touchIntervalMs(30 * 60_000) // 60_000
 */
export function touchIntervalMs(idleTimeoutMs: number): number {
  return Math.min(60_000, Math.floor(idleTimeoutMs / 10))
}

/**
 * Loads, creates, saves and ends sessions.
 * @example
 * const loaded = await gate.load(request)
 * if (loaded.kind === 'invalid') return unauthorized(gate.clearCookie())
 */
export class SessionGate {
  readonly #settings: HandlerSettings

  constructor(settings: HandlerSettings) {
    this.#settings = settings
  }

  /** The session the request's cookie names. */
  async load(request: WebRequest): Promise<LoadedSession> {
    const { signer, sessions, clock, idleTimeoutMs, absoluteTimeoutMs } = this.#settings
    const value = cookieValue(
      request.headers.get('cookie'),
      sessionCookieName({ insecureLocalhost: this.#settings.insecureLocalhostCookie }),
    )
    if (value === null) return { kind: 'none' }
    const id = signer.verify(value)
    if (id === null) return { kind: 'invalid' }
    const key = sha256Hex(id)
    const session = await sessions.get(key)
    if (session === null) return { kind: 'invalid' }
    const now = clock.now()
    if (now - session.lastSeenAt > idleTimeoutMs || now - session.createdAt > absoluteTimeoutMs) {
      await sessions.delete(key)
      return { kind: 'invalid' }
    }
    if (now - session.lastSeenAt >= touchIntervalMs(idleTimeoutMs)) {
      const touched = { ...session, lastSeenAt: now }
      await this.save(key, touched)
      return { kind: 'live', key, session: touched }
    }
    return { kind: 'live', key, session }
  }

  /** Stores `session` under a new id; answers its key and the `Set-Cookie` value. */
  async create(session: WebSession): Promise<{ key: string; setCookie: string }> {
    const id = newSessionId()
    const key = sha256Hex(id)
    await this.save(key, session)
    const setCookie = sessionSetCookie(this.#settings.signer.sign(id), {
      insecureLocalhost: this.#settings.insecureLocalhostCookie,
      maxAgeSeconds:
        (session.createdAt + this.#settings.absoluteTimeoutMs - session.lastSeenAt) / 1000,
    })
    return { key, setCookie }
  }

  /** Writes `session` back under `key`, living until its idle or absolute deadline. */
  async save(key: string, session: WebSession): Promise<void> {
    const { idleTimeoutMs, absoluteTimeoutMs, clock } = this.#settings
    const deadline = Math.min(
      session.lastSeenAt + idleTimeoutMs,
      session.createdAt + absoluteTimeoutMs,
    )
    const ttlMs = deadline - clock.now()
    if (ttlMs <= 0) {
      await this.#settings.sessions.delete(key)
      return
    }
    await this.#settings.sessions.set(key, session, ttlMs)
  }

  /** Ends the session server-side. */
  async destroy(key: string): Promise<void> {
    await this.#settings.sessions.delete(key)
  }

  /** The `Set-Cookie` value that deletes the cookie. */
  clearCookie(): string {
    return clearSessionSetCookie({ insecureLocalhost: this.#settings.insecureLocalhostCookie })
  }
}
