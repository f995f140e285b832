/**
 * The token-exchange grant that turns an id token into an OpenAI API key (PROTOCOL.md §2, optional step of the
 * browser flow). The subject token must be an id token this simulator issued, unexpired and from a live family;
 * a well-signed token the issuer never handed out is refused, like a forged one. Errors follow RFC 8693 §2.2.2:
 * an unusable request or subject token is `invalid_request`.
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
import type { SimState } from '../state.js'
import { oauthError, requireCodexClient, requireParam } from './errors.js'
import { json, type IssuerAnswer } from './respond.js'

/** The grant type of RFC 8693. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'
const API_KEY_TOKEN = 'openai-api-key'

/**
 * Mints an API key for the id token's account: `{access_token: "sk-proj-…", issued_token_type, token_type}`.
 * `issued_token_type` echoes `requested_token`, the only name OpenAI gives this token type.
 */
export function tokenExchangeGrant(
  state: SimState,
  params: ReadonlyMap<string, string>,
): IssuerAnswer {
  requireCodexClient(params)
  if (requireParam(params, 'requested_token') !== API_KEY_TOKEN) {
    throw oauthError(400, 'invalid_request', `requested_token must be ${API_KEY_TOKEN}`)
  }
  if (requireParam(params, 'subject_token_type') !== ID_TOKEN_TYPE) {
    throw oauthError(400, 'invalid_request', `subject_token_type must be ${ID_TOKEN_TYPE}`)
  }
  const check = state.checkIdToken(requireParam(params, 'subject_token'))
  if (!check.ok) {
    throw oauthError(400, 'invalid_request', `The subject token is ${check.reason}`)
  }
  return json(200, {
    access_token: state.createApiKey(check.accountId),
    issued_token_type: API_KEY_TOKEN,
    token_type: 'Bearer',
  })
}
