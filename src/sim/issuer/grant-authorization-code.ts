/**
 * The `authorization_code` grant (PROTOCOL.md §2, §3 step 4). A code is spent by its first presentation, whether
 * or not that presentation succeeds, so a failed exchange cannot be retried and a stolen code cannot be tried
 * twice; a later presentation is a replay, which also revokes the token family the code produced
 * (RFC 6749 §4.1.2: "SHOULD revoke … all tokens previously issued based on that authorization code").
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
import { randomId } from '../random.js'
import { CODEX_SCOPE, type SimState } from '../state.js'
import { oauthError, requireCodexClient, requireParam } from './errors.js'
import { verifierMatches } from './pkce.js'
import { json, type IssuerAnswer } from './respond.js'

/**
 * Exchanges a code for `{id_token, access_token, refresh_token, expires_in, token_type, scope}`; every failure
 * that concerns the code is a 400 `invalid_grant`.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.6
 */
export function authorizationCodeGrant(
  state: SimState,
  params: ReadonlyMap<string, string>,
): IssuerAnswer {
  requireCodexClient(params)
  const code = requireParam(params, 'code')
  const record = state.authCodes.get(code)
  if (!record) throw invalidGrant('Unknown authorization code')
  if (record.used) {
    if (record.familyId !== null) state.revokeFamily(record.familyId)
    throw invalidGrant('The authorization code has already been used')
  }
  record.used = true
  if (record.expiresAt <= state.now()) throw invalidGrant('The authorization code has expired')
  if (record.clientId !== params.get('client_id')) {
    throw invalidGrant('The authorization code was issued to another client')
  }
  // Byte-for-byte, as RFC 6749 §4.1.3 requires: no normalisation of case, port or trailing slash.
  if (record.redirectUri !== params.get('redirect_uri')) {
    throw invalidGrant('redirect_uri does not match the authorization request')
  }
  const verifier = params.get('code_verifier')
  if (verifier === undefined) throw invalidGrant('code_verifier is required')
  if (!verifierMatches(verifier, record.codeChallenge)) {
    throw invalidGrant('code_verifier does not match the code_challenge')
  }
  const familyId = randomId()
  record.familyId = familyId
  const tokens = state.issueTokens(record.accountId, familyId)
  return json(200, {
    id_token: tokens.idToken,
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    expires_in: tokens.expiresIn,
    token_type: 'Bearer',
    scope: CODEX_SCOPE,
  })
}

function invalidGrant(description: string) {
  return oauthError(400, 'invalid_grant', description)
}
