/**
 * The browser sign-in (PROTOCOL.md §2): a fresh PKCE pair and state, the loopback callback server on the first
 * free registered port, the authorize URL handed to the caller (the CLI opens the system browser or prints it),
 * and, inside the callback, the code exchange and the caller's `persist` — so the browser shows "signed in"
 * only once the credentials are stored. The redirect URI is exactly `http://127.0.0.1:<bound port>/auth/callback`
 * for a port of the registered list (SECURITY.md CB-11). The optional API-key exchange runs after the port is
 * closed and never fails the sign-in.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 */
import { BrokerError, type Clock } from '../lib/index.js'
import { buildAuthorizeUrl } from './authorize-url.js'
import { startCallbackServer } from './callback-server.js'
import type { IdTokenClaims } from './claims.js'
import { issuerBase } from './endpoint-url.js'
import {
  completeSignIn,
  type LoginResult,
  optionalApiKey,
  type PersistTokens,
} from './login-result.js'
import { createPkcePair, createState } from './pkce.js'
import type { IssuerConfig, TokenSet } from './token-response.js'

/** Options of {@link loginWithBrowser}. */
export interface BrowserLoginOptions {
  /** The issuer and client. */
  config: IssuerConfig
  /** Receives the authorize URL once the callback server listens; open it in the system browser or print it. */
  onAuthorizeUrl: (url: string) => void | Promise<void>
  /** Stores the new credentials; the success page is sent only after it resolves. */
  persist: PersistTokens
  /** Registered callback ports, tried in order (default 1455, 1457). */
  ports?: readonly number[]
  /** `originator` of the authorize URL (default `codex_cli_rs`). */
  originator?: string
  /** Restrict the workspaces the user may pick (`allowed_workspace_id`). */
  allowedWorkspaceId?: string | readonly string[]
  /** Also trade the id token for an OpenAI API key (best effort). */
  withApiKeyExchange?: boolean
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number
  /** Time source (default: the system clock). */
  clock?: Clock
  /** Cancels the sign-in (`ERR_LOGIN_CANCELLED`). */
  signal?: AbortSignal
}

/**
 * Signs in through the system browser and returns the stored tokens, their claims and the optional API key.
 * Throws `ERR_PORT_IN_USE`, `ERR_LOGIN_TIMEOUT`, `ERR_LOGIN_CANCELLED`, the meaning of an issuer error, an
 * exchange error, or whatever `persist` throws.
 * @example
 * const { claims } = await loginWithBrowser({
 *   config: { issuer: DEFAULT_ISSUER, clientId: CODEX_CLIENT_ID },
 *   onAuthorizeUrl: (url) => open(url),
 *   persist: (tokens, claims) => store.saveAccount(tokens, claims),
 * })
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-4.1
 */
export async function loginWithBrowser(options: BrowserLoginOptions): Promise<LoginResult> {
  const { config } = options
  issuerBase(config.issuer)
  const pkce = createPkcePair()
  const state = createState()
  let signedIn: { tokens: TokenSet; claims: IdTokenClaims } | undefined
  const redirect: { uri: string } = { uri: '' }
  const server = await startCallbackServer({
    expectedState: state,
    onCallback: async (code) => {
      signedIn = await completeSignIn(
        config,
        { code, redirectUri: redirect.uri, codeVerifier: pkce.codeVerifier },
        options.persist,
      )
    },
    ...(options.ports === undefined ? {} : { ports: options.ports }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(config.fetch === undefined ? {} : { fetch: config.fetch }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  redirect.uri = server.redirectUri
  try {
    const url = buildAuthorizeUrl(config, {
      redirectUri: server.redirectUri,
      codeChallenge: pkce.codeChallenge,
      state,
      ...(options.originator === undefined ? {} : { originator: options.originator }),
      ...(options.allowedWorkspaceId === undefined
        ? {}
        : { allowedWorkspaceId: options.allowedWorkspaceId }),
    })
    await options.onAuthorizeUrl(url)
  } catch (error) {
    server.cancel()
    await server.done.catch(() => undefined)
    throw error
  }
  await server.done
  if (signedIn === undefined) {
    throw new BrokerError('ERR_INTERNAL', 'The sign-in ended without credentials.')
  }
  const { tokens, claims } = signedIn
  const extra = await optionalApiKey(config, tokens.idToken, options.withApiKeyExchange === true)
  return { tokens, claims, ...extra }
}
