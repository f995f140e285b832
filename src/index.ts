/**
 * `codex-broker`: the library entry point. Re-exports only; each surface adds its public API here as it lands.
 * The sign-in protocol is exported step by step (each a request builder plus a response processor in
 * `src/oauth`), but only the steps a caller composes; the transport helpers stay internal.
 */
export * from './lib/index.js'
export * from './accounts/index.js'
export {
  assertSafeEndpoint,
  buildAuthorizeUrl,
  CODEX_CLIENT_ID,
  createPkcePair,
  createState,
  DEFAULT_CALLBACK_PORTS,
  DEFAULT_ISSUER,
  DEFAULT_ORIGINATOR,
  DEVICE_CODE_PHISHING_WARNING,
  exchangeAuthorizationCode,
  exchangeForApiKey,
  isPermanentRefreshError,
  loginManually,
  loginWithBrowser,
  loginWithDeviceCode,
  parseAccessTokenClaims,
  parseIdTokenClaims,
  parseRedirectUrl,
  pollDeviceAuthorization,
  refreshTokens,
  requestDeviceCode,
  revokeRefreshToken,
  SCOPE,
  startCallbackServer,
  type AccessTokenClaims,
  type BrowserLoginOptions,
  type CallbackServer,
  type CallbackServerOptions,
  type DeviceCodePrompt,
  type DeviceLoginOptions,
  type IdTokenClaims,
  type IssuerConfig,
  type LoginResult,
  type ManualLoginOptions,
  type PersistTokens,
  type PlanType,
  type RefreshedTokens,
  type RefreshReason,
  type TokenSet,
} from './oauth/index.js'
export * from './store/index.js'
export * from './tokens/index.js'
export * from './upstream/index.js'
export * from './runners/index.js'
export {
  DEFAULT_MAX_BODY_BYTES,
  startProxy,
  type ChatgptUpstream,
  type OpenAIUpstream,
  type ProxyUpstream,
  type RunningProxy,
  type StartProxyOptions,
} from './proxy/index.js'
export {
  type AppServerMethods,
  type AppServerServices,
  capabilityFromSha256,
  createAppServerMethods,
  createJwtVerifier,
  generateCapabilityToken,
  loadCapabilityTokenFile,
  loadSharedSecretFile,
  RPC_ERROR_CODES,
  RpcError,
  type RpcContext,
  type RpcMethod,
  type RpcMethods,
  type RunningAppServer,
  startAppServer,
  type StartAppServerOptions,
  type WsAuthMode,
} from './app-server/index.js'
export * from './web/index.js'
