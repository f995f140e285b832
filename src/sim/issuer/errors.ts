/**
 * The two error shapes the issuer speaks. OAuth endpoints answer RFC 6749 §5.2 bodies
 * (`{"error": "invalid_grant", "error_description": …}`); the refresh failures and the `/api/accounts/*` routes
 * answer the OpenAI API shape (`{"error": {"code", "message", "type"}}`), as auth.openai.com does. A client that
 * reads `error.code`, then `error` as a string, then `code` (PROTOCOL.md §4) finds the code in both.
 */
import { SimHttpError } from '../http.js'
import { CODEX_CLIENT_ID } from '../state.js'

/**
 * An RFC 6749 §5.2 error.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function oauthError(status: number, error: string, description: string): SimHttpError {
  return new SimHttpError(status, { error, error_description: description })
}

/** An error in the OpenAI API shape, with the code under `error.code`. */
export function apiError(status: number, code: string, message: string): SimHttpError {
  return new SimHttpError(status, { error: { code, message, type: 'invalid_request_error' } })
}

/**
 * Refuses any client but the Codex CLI's public one. A missing client id is "no client authentication included",
 * which RFC 6749 §5.2 also calls `invalid_client`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function requireCodexClient(params: ReadonlyMap<string, string>): void {
  const clientId = params.get('client_id')
  if (clientId !== CODEX_CLIENT_ID) {
    throw oauthError(
      401,
      'invalid_client',
      clientId === undefined ? 'client_id is required' : 'Unknown client_id',
    )
  }
}

/** A required parameter, or a 400 `invalid_request` naming it. */
export function requireParam(params: ReadonlyMap<string, string>, name: string): string {
  const value = params.get(name)
  if (value === undefined || value === '') {
    throw oauthError(400, 'invalid_request', `${name} is required`)
  }
  return value
}
