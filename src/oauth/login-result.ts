/**
 * The end of every sign-in, shared by the browser, paste and (for the code exchange) device flows: exchange the
 * code, read the id token's claims — a malformed token fails here, before anything is stored — and hand both to
 * the caller's `persist`, awaited, so "signed in" is only ever said once the credentials are on disk. The
 * optional API-key exchange runs afterwards and is best effort: its failure is reported, not thrown.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
import { BrokerError, type Secret } from '../lib/index.js'
import { type IdTokenClaims, parseIdTokenClaims } from './claims.js'
import { exchangeForApiKey } from './api-key-exchange.js'
import { type CodeExchangeInput, exchangeAuthorizationCode } from './code-exchange.js'
import type { IssuerConfig, TokenSet } from './token-response.js'

/** Stores the credentials of a new sign-in; the sign-in reports success only after it resolves. */
export type PersistTokens = (tokens: TokenSet, claims: IdTokenClaims) => Promise<void>

/** What a browser or paste sign-in yields. */
export interface LoginResult {
  tokens: TokenSet
  claims: IdTokenClaims
  /** The API key of the optional exchange, or null (not asked for, or failed). */
  apiKey: Secret | null
  /** Why the API-key exchange failed, when it was asked for and failed. */
  apiKeyError: BrokerError | null
}

/**
 * Exchanges the code, parses the id token's claims and awaits `persist`.
 * @example
 * const { tokens, claims } = await completeSignIn(config, { code, redirectUri, codeVerifier }, persist)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export async function completeSignIn(
  config: IssuerConfig,
  input: CodeExchangeInput,
  persist: PersistTokens,
): Promise<{ tokens: TokenSet; claims: IdTokenClaims }> {
  const tokens = await exchangeAuthorizationCode(config, input)
  const claims = parseIdTokenClaims(tokens.idToken)
  await persist(tokens, claims)
  return { tokens, claims }
}

/**
 * The optional API-key exchange, best effort: never throws.
 * @example
 * const { apiKey, apiKeyError } = await optionalApiKey(config, tokens.idToken, options.withApiKeyExchange)
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export async function optionalApiKey(
  config: IssuerConfig,
  idToken: Secret,
  wanted: boolean,
): Promise<{ apiKey: Secret | null; apiKeyError: BrokerError | null }> {
  if (!wanted) return { apiKey: null, apiKeyError: null }
  try {
    return { apiKey: await exchangeForApiKey(config, idToken), apiKeyError: null }
  } catch (error) {
    const apiKeyError =
      error instanceof BrokerError
        ? error
        : new BrokerError('ERR_UPSTREAM_BAD_RESPONSE', 'The API key exchange failed.', {
            cause: error,
          })
    return { apiKey: null, apiKeyError }
  }
}
