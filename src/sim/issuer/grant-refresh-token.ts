/**
 * The `refresh_token` grant (PROTOCOL.md §4). Rotation is strict and lives in `SimState.refresh`; this module maps
 * its outcomes to the wire. Every permanent failure is a 401, because the Codex CLI treats a 401 as "sign in
 * again" and anything else as transient. Expired, reused and revoked tokens answer in the OpenAI shape
 * `{"error": {"code": "refresh_token_…", "message", "type"}}`; an unknown token answers the RFC 6749 shape
 * `{"error": "invalid_grant", "error_description"}`. A client reading `error.code`, then `error` as a string,
 * then `code` gets the right code from both, and the simulator exercises both branches of that reader.
 */
import type { RefreshOutcome, SimState } from '../state.js'
import { apiError, oauthError, requireCodexClient, requireParam } from './errors.js'
import { json, type IssuerAnswer } from './respond.js'

/** The `refresh_reason` values the Codex CLI sends. */
export const REFRESH_REASONS: readonly string[] = [
  'proactive_expiry',
  'scheduled',
  'unauthorized_recovery',
  'forced',
]

type RefreshFailureCode = Extract<RefreshOutcome, { ok: false }>['code']

const FAILURE_MESSAGES: Record<Exclude<RefreshFailureCode, 'invalid_grant'>, string> = {
  refresh_token_expired: 'Your refresh token has expired. Please try signing in again.',
  refresh_token_reused:
    'Your refresh token has already been used to generate a new access token. Please try signing in again.',
  refresh_token_invalidated:
    'Your refresh token has been invalidated. Please try signing in again.',
}

/**
 * Spends a refresh token and answers `{id_token, access_token, refresh_token, expires_in}`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function refreshTokenGrant(
  state: SimState,
  params: ReadonlyMap<string, string>,
): IssuerAnswer {
  state.counters.refreshCalls += 1
  requireCodexClient(params)
  const reason = params.get('refresh_reason')
  if (reason !== undefined && !REFRESH_REASONS.includes(reason)) {
    throw oauthError(400, 'invalid_request', `Unknown refresh_reason ${reason}`)
  }
  const outcome = state.refresh(requireParam(params, 'refresh_token'))
  if (!outcome.ok) {
    if (outcome.code === 'invalid_grant') {
      throw oauthError(401, 'invalid_grant', 'The refresh token is not known to this issuer')
    }
    throw apiError(401, outcome.code, FAILURE_MESSAGES[outcome.code])
  }
  const { tokens } = outcome
  return json(200, {
    id_token: tokens.idToken,
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    expires_in: tokens.expiresIn,
  })
}
