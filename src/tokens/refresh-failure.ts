/**
 * What a failed refresh means for the account (PROTOCOL.md §4 "Errors"). A permanent failure — the issuer said the
 * refresh token is expired, already used, revoked, or otherwise refused — makes the account `needs_login`, which
 * is remembered in the store so no process presents that token again; a transient one (5xx, network, timeout)
 * keeps everything and is surfaced as `ERR_REFRESH_TRANSIENT`. Credentials are never deleted on any failure
 * (SECURITY.md C5.5). Also the errors the token manager raises for accounts it cannot serve.
 */
import { BrokerError, isBrokerError } from '../lib/index.js'
import { isPermanentRefreshError, type PermanentRefreshErrorCode } from '../oauth/index.js'
import type { AccountStatus } from '../store/index.js'

/**
 * The permanent code of a refresh failure, or null when the failure is transient (or not a `BrokerError` at all:
 * an unknown failure never costs the user their sign-in).
 *
 * @example
 * permanentRefreshCode(new BrokerError('ERR_REFRESH_REUSED', '…')) // 'ERR_REFRESH_REUSED'
 * permanentRefreshCode(new BrokerError('ERR_REFRESH_TRANSIENT', '…')) // null
 */
export function permanentRefreshCode(error: unknown): PermanentRefreshErrorCode | null {
  return isPermanentRefreshError(error) ? error.code : null
}

/** The hint every "sign in again" error carries. */
export const LOGIN_HINT = 'Run `codex-broker login` to sign this account in again.'

/**
 * `ERR_NEEDS_LOGIN` for an account whose sign-in is no longer usable.
 *
 * @example
 * throw needsLogin('acc_1', 'needs_login', 'ERR_REFRESH_REUSED')
 */
export function needsLogin(
  accountId: string,
  status: AccountStatus,
  reason: string | null,
  cause?: unknown,
): BrokerError {
  const why = reason === null ? '' : ` (${reason})`
  const message =
    status === 'disabled'
      ? `Account ${accountId} is disabled${why}.`
      : `Account ${accountId} needs to sign in again${why}; its credentials are kept but no longer refresh.`
  return new BrokerError('ERR_NEEDS_LOGIN', message, { cause, hint: LOGIN_HINT })
}

/**
 * `ERR_REFRESH_TRANSIENT` for a failure that keeps the credentials; an error that already has that code is
 * returned as is.
 *
 * @example
 * throw transientFailure('acc_1', error)
 */
export function transientFailure(accountId: string, cause: unknown): BrokerError {
  if (isBrokerError(cause, 'ERR_REFRESH_TRANSIENT')) return cause
  return new BrokerError(
    'ERR_REFRESH_TRANSIENT',
    `The access token of account ${accountId} could not be refreshed right now; the credentials are kept.`,
    { cause, hint: 'Try again in a moment.' },
  )
}
