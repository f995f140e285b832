/**
 * The sign-in protocol of PROTOCOL.md §2–5: PKCE and state, the authorize URL, the loopback callback server,
 * the browser, paste and device-code sign-ins, the token endpoint grants (code exchange, refresh, API-key
 * exchange), revocation and the token claims. Re-exports only.
 */
export {
  CODEX_CLIENT_ID,
  DEFAULT_CALLBACK_PORTS,
  DEFAULT_ISSUER,
  DEFAULT_ISSUER_TIMEOUT_MS,
  DEFAULT_LOGIN_TIMEOUT_MS,
  DEFAULT_ORIGINATOR,
  DEVICE_CODE_TTL_MS,
  SCOPE,
} from './constants.js'
export {
  assertSafeEndpoint,
  isLoopbackHostname,
  issuerBase,
  issuerEndpoint,
} from './endpoint-url.js'
export {
  CODE_CHALLENGE_METHOD,
  CODE_VERIFIER_BYTES,
  codeChallengeS256,
  createCodeVerifier,
  createPkcePair,
  createState,
  type PkcePair,
  STATE_BYTES,
} from './pkce.js'
export { type AuthorizeUrlParams, buildAuthorizeUrl } from './authorize-url.js'
export {
  discardBody,
  formRequest,
  type IssuerReply,
  jsonRequest,
  MAX_ISSUER_REPLY_BYTES,
  readIssuerReply,
  refuseRedirect,
  sendToIssuer,
  type SendOptions,
  type TransportFailure,
  unreachable,
} from './issuer-http.js'
export {
  grantRefused,
  issuerErrorCode,
  issuerErrorDetail,
  MAX_DETAIL_LENGTH,
} from './issuer-error.js'
export {
  buildCodeExchangeRequest,
  type CodeExchangeInput,
  exchangeAuthorizationCode,
  processCodeExchangeResponse,
} from './code-exchange.js'
export {
  buildRefreshRequest,
  classifyRefreshFailure,
  isPermanentRefreshError,
  PERMANENT_REFRESH_ERROR_CODES,
  type PermanentRefreshErrorCode,
  processRefreshResponse,
  refreshTokens,
  isAmbiguousRefreshFailure,
  RefreshTransientError,
  type RefreshDelivery,
} from './refresh.js'
export {
  buildApiKeyExchangeRequest,
  exchangeForApiKey,
  ID_TOKEN_TYPE,
  processApiKeyExchangeResponse,
  TOKEN_EXCHANGE_GRANT_TYPE,
} from './api-key-exchange.js'
export { buildRevokeRequest, processRevokeResponse, revokeRefreshToken } from './revoke.js'
export {
  buildDeviceTokenRequest,
  buildUserCodeRequest,
  DEFAULT_DEVICE_POLL_INTERVAL_SECONDS,
  DEVICE_AUTH_NOT_ENABLED_ADVICE,
  DEVICE_CODE_PHISHING_WARNING,
  type DeviceAuthorization,
  type DeviceCodeHandle,
  type DeviceCodePrompt,
  type DeviceLoginOptions,
  type DevicePollOutcome,
  loginWithDeviceCode,
  MAX_DEVICE_POLL_INTERVAL_SECONDS,
  pollDeviceAuthorization,
  processDeviceTokenResponse,
  processUserCodeResponse,
  requestDeviceCode,
  SLOW_DOWN_STEP_SECONDS,
} from './device-code.js'
export { callbackError } from './callback-error.js'
export { CALLBACK_SECURITY_HEADERS, type CallbackPage, renderPage } from './callback-pages.js'
export {
  BIND_RETRIES,
  BIND_RETRY_DELAY_MS,
  CALLBACK_HOST,
  CALLBACK_PATH,
  CANCEL_PATH,
  callbackRedirectUri,
  type CallbackServer,
  type CallbackServerOptions,
  isAllowedHost,
  startCallbackServer,
} from './callback-server.js'
export {
  completeSignIn,
  type LoginResult,
  optionalApiKey,
  type PersistTokens,
} from './login-result.js'
export { type BrowserLoginOptions, loginWithBrowser } from './login-browser.js'
export {
  loginManually,
  type ManualLoginOptions,
  type ParseRedirectOptions,
  parseRedirectUrl,
} from './login-manual.js'
export {
  type AccessTokenClaims,
  type IdTokenClaims,
  KNOWN_PLANS,
  parseAccessTokenClaims,
  parseIdTokenClaims,
  type PlanType,
  planTypeOf,
} from './claims.js'
export type { IssuerConfig, RefreshedTokens, RefreshReason, TokenSet } from './token-response.js'
