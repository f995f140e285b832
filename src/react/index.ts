/**
 * `codex-broker/react`: the browser-only sign-in component and hook. Re-exports only. Imports nothing but `react`;
 * no Node API, no token ever reaches the browser (a test scans the built bundle for both).
 */
export { CodexAuth, type CodexAuthProps } from './codex-auth.js'
export { CodexAuthView, type CodexAuthViewProps } from './codex-auth-view.js'
export { useCodexAuth } from './use-codex-auth.js'
export {
  CLIENT_ERROR_CODES,
  CodexClientError,
  isAbortError,
  type ClientErrorCode,
} from './errors.js'
export { DEFAULT_LOGIN_ORIGINS, validateLoginUrl } from './login-url.js'
export { AUTH_HINT_KEY, type HintStorage } from './auth-hint.js'
export {
  BROKER_HEADER_NAME,
  BROKER_HEADER_VALUE,
  DEFAULT_BASE_URL,
  type FetchLike,
} from './api-client.js'
export type {
  CodexAccount,
  CodexAuthErrorInfo,
  CodexAuthOptions,
  CodexAuthState,
  RunOptions,
  RunResult,
  SignOutOptions,
  UseCodexAuthResult,
} from './types.js'
