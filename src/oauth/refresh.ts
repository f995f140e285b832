/**
 * The refresh grant (PROTOCOL.md §4): a JSON `POST` to `{issuer}/oauth/token` with
 * `{client_id, grant_type: "refresh_token", refresh_reason, refresh_token}`, sent exactly once — refresh tokens
 * are single use, so a retried refresh is a reused one and can get the whole token family revoked. The answer
 * is classified into the closed error set: the code is read from `error.code`, then `error`, then `code`;
 * `refresh_token_reused`, `refresh_token_expired`, `refresh_token_invalidated` and any other 401 or
 * `invalid_grant` are permanent ("sign in again"); 5xx, other statuses, network errors, timeouts and an
 * unreadable 2xx are transient (keep the credentials, try later). Persisting the result and deciding what a
 * permanent failure does to the account is the `TokenManager`'s job, not this module's.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
import { z } from 'zod'
import { BrokerError, isBrokerError, type BrokerErrorCode, Secret } from '../lib/index.js'
import { issuerEndpoint } from './endpoint-url.js'
import { issuerErrorCode, issuerErrorDetail } from './issuer-error.js'
import { discardBody, jsonRequest, readIssuerReply, sendToIssuer } from './issuer-http.js'
import type { IssuerConfig, RefreshedTokens, RefreshReason } from './token-response.js'

/** The codes of a refresh failure that only a new sign-in can fix. */
export const PERMANENT_REFRESH_ERROR_CODES = [
  'ERR_REFRESH_REUSED',
  'ERR_REFRESH_EXPIRED',
  'ERR_REFRESH_REVOKED',
  'ERR_REFRESH_FAILED',
] as const satisfies readonly BrokerErrorCode[]

/** A permanent refresh failure code. */
export type PermanentRefreshErrorCode = (typeof PERMANENT_REFRESH_ERROR_CODES)[number]

const SIGN_IN_AGAIN_HINT = 'Run `codex-broker login` to sign in again.'

const PERMANENT_BY_ISSUER_CODE: Readonly<
  Record<string, { code: PermanentRefreshErrorCode; message: string }>
> = {
  refresh_token_reused: {
    code: 'ERR_REFRESH_REUSED',
    message:
      'Your access token could not be refreshed because your refresh token was already used. Please sign in again.',
  },
  refresh_token_expired: {
    code: 'ERR_REFRESH_EXPIRED',
    message:
      'Your access token could not be refreshed because your refresh token has expired. Please sign in again.',
  },
  refresh_token_invalidated: {
    code: 'ERR_REFRESH_REVOKED',
    message:
      'Your access token could not be refreshed because your refresh token was revoked. Please sign in again.',
  },
}

const REFRESH_FAILED_MESSAGE = 'Your access token could not be refreshed. Please sign in again.'

const refreshResponseSchema = z
  .object({
    id_token: z.string().min(1).nullish(),
    access_token: z.string().min(1).nullish(),
    refresh_token: z.string().min(1).nullish(),
  })
  .loose()

/**
 * The refresh request: JSON `{client_id, grant_type, refresh_reason, refresh_token}`.
 * @example
 * const request = buildRefreshRequest(config, refreshToken, 'proactive_expiry')
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function buildRefreshRequest(
  config: IssuerConfig,
  refreshToken: Secret,
  reason: RefreshReason,
): Request {
  return jsonRequest(issuerEndpoint(config.issuer, '/oauth/token'), {
    client_id: config.clientId,
    grant_type: 'refresh_token',
    refresh_reason: reason,
    refresh_token: refreshToken.reveal(),
  })
}

/**
 * Classifies the answer to a refresh: the new tokens (each present field replaces the stored one), or a
 * `BrokerError` — permanent (`ERR_REFRESH_REUSED | _EXPIRED | _REVOKED | _FAILED`) or `ERR_REFRESH_TRANSIENT`.
 * @example
 * const refreshed = await processRefreshResponse(response)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export async function processRefreshResponse(response: Response): Promise<RefreshedTokens> {
  if (response.status >= 300 && response.status <= 399) {
    await discardBody(response)
    throw transient(
      `the issuer answered with a redirect (HTTP ${response.status}), which is never followed`,
    )
  }
  const reply = await readIssuerReply(response, 'refresh', transient)
  if (reply.status < 200 || reply.status > 299)
    throw classifyRefreshFailure(reply.status, reply.json)
  const parsed = refreshResponseSchema.safeParse(reply.json)
  if (!parsed.success)
    throw transient(`the issuer's answer (HTTP ${reply.status}) is not a token response`)
  const { id_token: idToken, access_token: accessToken, refresh_token: refreshToken } = parsed.data
  if (idToken == null && accessToken == null && refreshToken == null) {
    throw transient(`the issuer's answer (HTTP ${reply.status}) carries no token`)
  }
  return {
    idToken: idToken == null ? null : Secret.from(idToken),
    accessToken: accessToken == null ? null : Secret.from(accessToken),
    refreshToken: refreshToken == null ? null : Secret.from(refreshToken),
  }
}

/**
 * The error for a non-2xx refresh answer (PROTOCOL.md §4's table).
 * @example
 * classifyRefreshFailure(401, { error: { code: 'refresh_token_reused' } }).code // 'ERR_REFRESH_REUSED'
 * classifyRefreshFailure(503, undefined).code // 'ERR_REFRESH_TRANSIENT'
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function classifyRefreshFailure(status: number, json: unknown): BrokerError {
  const issuerCode = issuerErrorCode(json)
  const known = issuerCode === undefined ? undefined : PERMANENT_BY_ISSUER_CODE[issuerCode]
  if (known !== undefined) {
    return new BrokerError(known.code, known.message, { hint: SIGN_IN_AGAIN_HINT })
  }
  if (status === 401 || issuerCode === 'invalid_grant') {
    return new BrokerError('ERR_REFRESH_FAILED', REFRESH_FAILED_MESSAGE, {
      hint: SIGN_IN_AGAIN_HINT,
    })
  }
  return transient(`the issuer answered HTTP ${status} (${issuerErrorDetail(json, status)})`)
}

/**
 * Refreshes the tokens: one `POST`, never retried. Throws a permanent refresh error (sign in again) or
 * `ERR_REFRESH_TRANSIENT` (keep the credentials, try later).
 * @example
 * try {
 *   const refreshed = await refreshTokens(config, account.refreshToken, 'proactive_expiry')
 * } catch (error) {
 *   if (isPermanentRefreshError(error)) markNeedsLogin(account)
 * }
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export async function refreshTokens(
  config: IssuerConfig,
  refreshToken: Secret,
  reason: RefreshReason,
): Promise<RefreshedTokens> {
  const request = buildRefreshRequest(config, refreshToken, reason)
  const response = await sendToIssuer(config, request, 'refresh', { fail: transient })
  return processRefreshResponse(response)
}

/**
 * True for a permanent refresh failure: the account needs a new sign-in and its refresh token must not be sent
 * again.
 * @example
 * if (isPermanentRefreshError(error)) await store.markNeedsLogin(accountId)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function isPermanentRefreshError(
  error: unknown,
): error is BrokerError & { readonly code: PermanentRefreshErrorCode } {
  return (
    isBrokerError(error) &&
    (PERMANENT_REFRESH_ERROR_CODES as readonly BrokerErrorCode[]).includes(error.code)
  )
}

function transient(reason: string, cause?: unknown): BrokerError {
  // A transport failure or a server-side fault: the refresh token may or may not have been spent, so it is
  // kept (never deleted) and the next attempt decides.
  return new BrokerError(
    'ERR_REFRESH_TRANSIENT',
    `The access token could not be refreshed right now: ${reason}. The credentials are kept.`,
    { cause, hint: 'Try again in a moment.' },
  )
}
