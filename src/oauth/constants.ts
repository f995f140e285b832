/**
 * The fixed facts of the OpenAI sign-in that codex-broker speaks (PROTOCOL.md §1): the issuer, the Codex CLI's
 * public client id, the scope it asks for, the two loopback callback ports registered with the issuer and the
 * `originator` the Codex CLI sends. Every one of them can be overridden by the caller (the simulator stands in
 * for the issuer in tests), so these are defaults, not hard-wired values.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */

/**
 * The OpenAI issuer.
 * @example
 * const config: IssuerConfig = { issuer: DEFAULT_ISSUER, clientId: CODEX_CLIENT_ID }
 */
export const DEFAULT_ISSUER = 'https://auth.openai.com'

/**
 * The Codex CLI's public OAuth client (off-label use, see the README warning).
 * @example
 * const config: IssuerConfig = { issuer: DEFAULT_ISSUER, clientId: CODEX_CLIENT_ID }
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.1
 */
export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann'

/**
 * The scope of the authorization request (space separated; `+`-encoded in the URL).
 * @example
 * SCOPE.split(' ').includes('offline_access') // true
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 */
export const SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke'

/**
 * The loopback ports whose `http://127.0.0.1:<port>/auth/callback` is registered with the issuer, in the order
 * they are tried. Only these two exist; the broker never invents another (SECURITY.md C1.9).
 * @example
 * await startCallbackServer({ ports: DEFAULT_CALLBACK_PORTS, expectedState, onCallback })
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export const DEFAULT_CALLBACK_PORTS: readonly number[] = Object.freeze([1455, 1457])

/**
 * The `originator` the Codex CLI sends in the authorize URL and on backend requests.
 * @example
 * buildAuthorizeUrl(config, { ...params, originator: DEFAULT_ORIGINATOR })
 */
export const DEFAULT_ORIGINATOR = 'codex_cli_rs'

/**
 * How long a device code stays valid at the issuer: 15 minutes (PROTOCOL.md §3).
 * @example
 * const expiresAt = clock.now() + DEVICE_CODE_TTL_MS
 */
export const DEVICE_CODE_TTL_MS = 15 * 60 * 1000

/**
 * How long the browser sign-in waits for the callback before giving up: 10 minutes.
 * @example
 * await startCallbackServer({ expectedState, onCallback, timeoutMs: DEFAULT_LOGIN_TIMEOUT_MS })
 */
export const DEFAULT_LOGIN_TIMEOUT_MS = 10 * 60 * 1000

/**
 * The default timeout of one request to the issuer: 30 seconds.
 * @example
 * const signal = AbortSignal.timeout(config.timeoutMs ?? DEFAULT_ISSUER_TIMEOUT_MS)
 */
export const DEFAULT_ISSUER_TIMEOUT_MS = 30_000
