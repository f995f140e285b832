/**
 * The refresh grant (PROTOCOL.md §4): a JSON `POST` to `{issuer}/oauth/token` with
 * `{client_id, grant_type: "refresh_token", refresh_reason, refresh_token}`, sent exactly once — refresh tokens
 * are single use, so a retried refresh is a reused one and can get the whole token family revoked. The answer
 * is classified into the closed error set: the code is read from `error.code`, then `error`, then `code`;
 * `refresh_token_reused`, `refresh_token_expired`, `refresh_token_invalidated` and any other 401 or
 * `invalid_grant` are permanent ("sign in again"); 5xx, other statuses, network errors, timeouts and an
 * unreadable 2xx are transient (keep the credentials, try later). A transient failure also says whether the
 * refresh token may have been spent ({@link RefreshTransientError.delivery}): `not_sent` when the connection never
 * opened, `answered` when the issuer answered without tokens (a 5xx, a redirect), and `ambiguous` when the request
 * went out and no answer came back whole (a timeout, a reset, a cut or unreadable 2xx) — the issuer may have
 * rotated, so that token must not be sent again (SECURITY.md C5.4, RT-05). Persisting the result and deciding what
 * a failure does to the account is the `TokenManager`'s job, not this module's.
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
      'answered',
      `the issuer answered with a redirect (HTTP ${response.status}), which is never followed`,
    )
  }
  // A success whose body is lost may have carried the rotated tokens; any other status spent nothing.
  const delivery = response.ok ? 'ambiguous' : 'answered'
  const reply = await readIssuerReply(response, 'refresh', (reason, cause) =>
    transient(delivery, reason, cause),
  )
  if (reply.status < 200 || reply.status > 299)
    throw classifyRefreshFailure(reply.status, reply.json)
  const parsed = refreshResponseSchema.safeParse(reply.json)
  if (!parsed.success)
    throw transient(
      'ambiguous',
      `the issuer's answer (HTTP ${reply.status}) is not a token response`,
    )
  const { id_token: idToken, access_token: accessToken, refresh_token: refreshToken } = parsed.data
  if (idToken == null && accessToken == null && refreshToken == null) {
    throw transient('ambiguous', `the issuer's answer (HTTP ${reply.status}) carries no token`)
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
  return transient(
    'answered',
    `the issuer answered HTTP ${status} (${issuerErrorDetail(json, status)})`,
  )
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
  const response = await sendToIssuer(config, request, 'refresh', {
    fail: (reason, cause) => transient(neverSent(cause) ? 'not_sent' : 'ambiguous', reason, cause),
  })
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

/**
 * Whether a transient refresh failure may have spent the refresh token: `not_sent` (the connection never opened),
 * `answered` (the issuer answered without rotating), `ambiguous` (sent, and no whole answer came back).
 */
export type RefreshDelivery = 'not_sent' | 'answered' | 'ambiguous'

/** `ERR_REFRESH_TRANSIENT` with what is known about the refresh token it sent. */
export class RefreshTransientError extends BrokerError {
  /** Whether the refresh token may have been spent. */
  readonly delivery: RefreshDelivery

  constructor(
    delivery: RefreshDelivery,
    message: string,
    options: { cause?: unknown; hint: string },
  ) {
    super('ERR_REFRESH_TRANSIENT', message, options)
    this.delivery = delivery
  }
}

/**
 * True when a refresh was sent and its answer lost: the issuer may have rotated the token, so presenting it again
 * could be a reuse that revokes the sign-in (SECURITY.md C5.4).
 * @example
 * if (isAmbiguousRefreshFailure(error)) markNeedsLogin(account)
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export function isAmbiguousRefreshFailure(error: unknown): error is RefreshTransientError {
  return error instanceof RefreshTransientError && error.delivery === 'ambiguous'
}

/** Connection errors that mean no byte of the request reached the issuer. */
const NEVER_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
])

function neverSent(error: unknown): boolean {
  for (let current = error, depth = 0; depth < 4; depth += 1) {
    const code: unknown =
      typeof current === 'object' && current !== null ? Reflect.get(current, 'code') : undefined
    if (typeof code === 'string' && NEVER_SENT_CODES.has(code)) return true
    if (typeof current !== 'object' || current === null) return false
    current = Reflect.get(current, 'cause')
  }
  return false
}

function transient(delivery: RefreshDelivery, reason: string, cause?: unknown): BrokerError {
  // The credentials are kept (never deleted); whether the next attempt may present the same refresh token
  // depends on `delivery`.
  return new RefreshTransientError(
    delivery,
    `The access token could not be refreshed right now: ${reason}. The credentials are kept.`,
    { cause, hint: 'Try again in a moment.' },
  )
}
