/**
 * Authentication of the ChatGPT backend routes (`/backend-api/*`): a bearer access token the issuer minted, not
 * expired, its family not revoked, plus a `chatgpt-account-id` header naming the token's own account.
 *
 * A bad token is 401 (`invalid_token` when missing or unknown, `token_expired`, `token_revoked`): the answer a
 * client meets with one refresh and a retry. A good token with a missing or foreign account id is 403
 * `account_mismatch`: refreshing cannot fix it, and a 401 would push a well-behaved client into a pointless
 * refresh (and spend a single-use refresh token).
 */
import { bearerToken, SimHttpError, type SimRequestContext } from '../http.js'
import type { AccessTokenCheck } from '../state.js'
import type { SimAccount } from '../types.js'

const TOKEN_ERRORS: Record<
  Extract<AccessTokenCheck, { ok: false }>['reason'],
  { code: string; message: string }
> = {
  missing: {
    code: 'invalid_token',
    message: 'Missing bearer token. Send Authorization: Bearer <access_token>.',
  },
  unknown: {
    code: 'invalid_token',
    message: 'Could not parse your authentication token. Please try signing in again.',
  },
  expired: {
    code: 'token_expired',
    message: 'Provided authentication token is expired. Please try signing in again.',
  },
  revoked: {
    code: 'token_revoked',
    message: 'Your authentication token has been revoked. Please try signing in again.',
  },
}

/** Checks the bearer token and the account header; answers the account or throws the 401/403. */
export function authenticateChatGpt(ctx: SimRequestContext): SimAccount {
  const check = ctx.state.checkAccessToken(bearerToken(ctx.req))
  if (!check.ok) {
    const { code, message } = TOKEN_ERRORS[check.reason]
    throw new SimHttpError(
      401,
      { error: { message, type: 'invalid_request_error', code, param: null } },
      { 'www-authenticate': `Bearer error="invalid_token"` },
    )
  }
  const account = ctx.state.accounts.get(check.accountId)
  if (!account) {
    // The account was removed by a reset while the token lived on in a client.
    throw new SimHttpError(401, {
      error: {
        message: TOKEN_ERRORS.unknown.message,
        type: 'invalid_request_error',
        code: 'invalid_token',
        param: null,
      },
    })
  }
  const header = ctx.req.headers['chatgpt-account-id']
  if (header !== account.accountId) {
    throw new SimHttpError(403, {
      error: {
        message:
          header === undefined
            ? 'Missing chatgpt-account-id header.'
            : 'The chatgpt-account-id header does not match the signed-in account.',
        type: 'invalid_request_error',
        code: 'account_mismatch',
        param: null,
      },
    })
  }
  return account
}
