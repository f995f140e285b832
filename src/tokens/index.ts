/**
 * `src/tokens`: valid access tokens per account, with refresh that is single-flight within a process and across
 * processes and never loses or replays a rotated refresh token (DESIGN.md "Refresh"). Re-exports only.
 */
export {
  type AccountCredential,
  type ChatgptAccessToken,
  type GetAccessTokenOptions,
  type RefreshFunction,
  TokenManager,
  type TokenManagerOptions,
} from './token-manager.js'
export {
  DEFAULT_PROACTIVE_WINDOW_MS,
  DEFAULT_SCHEDULED_AFTER_MS,
  isFresh,
  type RefreshPolicy,
  refreshReasonFor,
  type TokenDates,
} from './refresh-policy.js'
export { INTERRUPTED_REFRESH_REASON } from './stored-tokens.js'
