/**
 * The paste fallback of the browser sign-in (`codex-broker login --manual`), for machines where the browser
 * cannot reach the broker's loopback port (a remote shell, a container): the authorize URL is printed, the user
 * signs in on any browser, which then fails to load `http://127.0.0.1:1455/auth/callback?code=…&state=…`, and
 * pastes that whole address back. `parseRedirectUrl` accepts it only if it is the redirect URI (same origin and
 * path), carries exactly one `state` equal to this sign-in's (constant-time compare), is not an error answer,
 * and has exactly one code. No message ever repeats the pasted address (it holds the code).
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
import { BrokerError, isBrokerError, safeEqual, Secret, untilAborted } from '../lib/index.js'
import { buildAuthorizeUrl } from './authorize-url.js'
import { callbackError } from './callback-error.js'
import { callbackRedirectUri } from './callback-server.js'
import { DEFAULT_CALLBACK_PORTS } from './constants.js'
import { issuerBase } from './endpoint-url.js'
import {
  completeSignIn,
  type LoginResult,
  optionalApiKey,
  type PersistTokens,
} from './login-result.js'
import { createPkcePair, createState } from './pkce.js'
import type { IssuerConfig } from './token-response.js'

/** What a pasted address must match. */
export interface ParseRedirectOptions {
  /** The state of this sign-in. */
  expectedState: string
  /** The redirect URI of this sign-in. */
  redirectUri: string
}

/**
 * Reads the authorization code out of a pasted redirect address. Throws `ERR_INVALID_REQUEST` (not a URL, not
 * the redirect URI, no code), `ERR_STATE_MISMATCH`, or the meaning of an `error=` answer.
 * @example
 * const code = parseRedirectUrl(line, { expectedState: state, redirectUri })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
export function parseRedirectUrl(pasted: string, options: ParseRedirectOptions): Secret {
  const expected = new URL(options.redirectUri)
  const text = pasted.trim()
  if (text === '') {
    throw invalidPaste('Nothing was pasted.', options.redirectUri)
  }
  let url: URL
  try {
    url = new URL(text)
  } catch (error) {
    throw invalidPaste('The pasted text is not a web address.', options.redirectUri, error)
  }
  if (url.origin !== expected.origin || url.pathname !== expected.pathname) {
    throw invalidPaste(
      'The pasted address is not the sign-in redirect address.',
      options.redirectUri,
    )
  }
  const states = url.searchParams.getAll('state')
  const state = states.length === 1 ? states[0] : undefined
  if (state === undefined || !safeEqual(state, options.expectedState)) {
    throw new BrokerError(
      'ERR_STATE_MISMATCH',
      'The pasted address belongs to another sign-in attempt (its state does not match).',
      { hint: 'Open the link printed for this sign-in and paste the address it ends on.' },
    )
  }
  const errors = url.searchParams.getAll('error')
  if (errors.length > 0) {
    throw callbackError(errors[0] ?? '', url.searchParams.get('error_description'))
  }
  const codes = url.searchParams.getAll('code')
  const code = codes.length === 1 ? codes[0] : undefined
  if (code === undefined || code === '') {
    throw invalidPaste('The pasted address has no authorization code.', options.redirectUri)
  }
  return Secret.from(code)
}

/** Options of {@link loginManually}. */
export interface ManualLoginOptions {
  /** The issuer and client. */
  config: IssuerConfig
  /** Receives the authorize URL to print. */
  onAuthorizeUrl: (url: string) => void | Promise<void>
  /** Reads one pasted line (the CLI prompts for it). */
  readLine: () => Promise<string>
  /** Stores the new credentials; awaited before the sign-in reports success. */
  persist: PersistTokens
  /** Told why a paste was refused before the next `readLine` (state mismatch, not the redirect, no code). */
  onInvalidPaste?: (error: BrokerError) => void
  /** How many pastes to read before giving up (default 3). */
  maxAttempts?: number
  /** The registered callback port of the redirect URI (default 1455). */
  port?: number
  /** `originator` of the authorize URL (default `codex_cli_rs`). */
  originator?: string
  /** Restrict the workspaces the user may pick (`allowed_workspace_id`). */
  allowedWorkspaceId?: string | readonly string[]
  /** Also trade the id token for an OpenAI API key (best effort). */
  withApiKeyExchange?: boolean
  /** Cancels the sign-in (`ERR_LOGIN_CANCELLED`). */
  signal?: AbortSignal
}

/**
 * The paste sign-in: prints the authorize URL, reads the pasted redirect address, exchanges the code and
 * stores the credentials. A refused paste (wrong address, wrong state, no code) is reported through
 * `onInvalidPaste` and read again, up to `maxAttempts`; an error answer from the issuer ends the sign-in.
 * @example
 * const { claims } = await loginManually({
 *   config, onAuthorizeUrl: (url) => console.log(url), readLine: () => rl.question('Paste: '), persist,
 * })
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export async function loginManually(options: ManualLoginOptions): Promise<LoginResult> {
  const { config, signal } = options
  issuerBase(config.issuer)
  const pkce = createPkcePair()
  const state = createState()
  const redirectUri = callbackRedirectUri(options.port ?? DEFAULT_CALLBACK_PORTS[0] ?? 1455)
  const url = buildAuthorizeUrl(config, {
    redirectUri,
    codeChallenge: pkce.codeChallenge,
    state,
    ...(options.originator === undefined ? {} : { originator: options.originator }),
    ...(options.allowedWorkspaceId === undefined
      ? {}
      : { allowedWorkspaceId: options.allowedWorkspaceId }),
  })
  throwIfAborted(signal)
  await options.onAuthorizeUrl(url)
  const attempts = Math.max(1, options.maxAttempts ?? 3)
  let code: Secret | undefined
  for (let attempt = 1; code === undefined; attempt += 1) {
    const line = await untilAborted(options.readLine(), signal, cancelled)
    try {
      code = parseRedirectUrl(line, { expectedState: state, redirectUri })
    } catch (error) {
      const retryable =
        isBrokerError(error, 'ERR_INVALID_REQUEST') || isBrokerError(error, 'ERR_STATE_MISMATCH')
      if (!retryable || attempt >= attempts) throw error
      options.onInvalidPaste?.(error)
    }
  }
  throwIfAborted(signal)
  const { tokens, claims } = await completeSignIn(
    config,
    { code, redirectUri, codeVerifier: pkce.codeVerifier },
    options.persist,
  )
  const extra = await optionalApiKey(config, tokens.idToken, options.withApiKeyExchange === true)
  return { tokens, claims, ...extra }
}

function invalidPaste(message: string, redirectUri: string, cause?: unknown): BrokerError {
  return new BrokerError('ERR_INVALID_REQUEST', message, {
    cause,
    hint: `Paste the whole address from the browser's address bar; it starts with ${redirectUri}?`,
  })
}

function cancelled(): BrokerError {
  return new BrokerError('ERR_LOGIN_CANCELLED', 'The sign-in was cancelled.')
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw cancelled()
}
