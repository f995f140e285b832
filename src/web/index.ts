/**
 * The web surface: the Fetch-API handler, its session stores and the pieces an app may want to reuse or test
 * against. Adapters live in their own entry points (`codex-broker/node`, `/express`, `/hono`). Re-exports only.
 */
export { type CodexHandler, createCodexHandler, INSECURE_COOKIE_WARNING } from './codex-handler.js'
export type { WebAnswer, WebRequest } from './web-answer.js'
export type { CodexHandlerOptions, WebUpstreamOptions } from './handler-options.js'
export { type SessionStore } from './session-store.js'
export { MemorySessionStore, type MemorySessionStoreOptions } from './memory-session-store.js'
export { RedisSessionStore, type RedisSessionStoreOptions } from './redis-session-store.js'
export {
  INSECURE_SESSION_COOKIE_NAME,
  MIN_COOKIE_SECRET_BYTES,
  SESSION_COOKIE_NAME,
} from './session-cookie.js'
export { STATIC_HEADER_NAME, STATIC_HEADER_VALUE } from './cross-origin-guard.js'
export {
  DEFAULT_RATE_LIMITS,
  type LimitedRoute,
  type RateLimit,
  type RouteRateLimits,
} from './web-rate-limits.js'
export type { RunStreamEvent } from './ndjson-run-stream.js'
export type { LoginFailure, PendingLogin, SessionAccount, WebSession } from './web-session.js'
