/**
 * `account/logout {accountId?, everywhere?}`: forgets an account on this machine. Without `accountId` it needs
 * exactly one stored account (a destructive call never guesses among several). `everywhere` first revokes the
 * refresh token at the issuer, signing the account out on every machine sharing the sign-in; if that fails,
 * nothing is deleted and the call answers `-32000`. On success every connection hears
 * `account/updated {account: null, removedAccountId}`.
 */
import { z } from 'zod'
import { revokeRefreshToken } from '../../oauth/index.js'
import type { StoredAccount } from '../../store/index.js'
import type { RpcMethod } from '../rpc/rpc-method.js'
import { noAccount, unknownAccount } from './account-view.js'
import { asServerError, serverError } from './method-failure.js'
import { parseParams } from './parse-params.js'
import type { AppServerServices } from './services.js'

const logoutParams = z
  .object({ accountId: z.string().min(1).optional(), everywhere: z.boolean().optional() })
  .loose()

/**
 * `account/logout`.
 * @example
 * await createAccountLogoutMethods(services)['account/logout']?.handle({ everywhere: true }, context) // {}
 */
export function createAccountLogoutMethods(services: AppServerServices): Record<string, RpcMethod> {
  return {
    'account/logout': {
      async handle(params, context) {
        const { accountId, everywhere } = parseParams(
          logoutParams,
          params,
          '{} (with one account), or {"accountId": "<id from account/list>", "everywhere": true|false}',
        )
        const account = await target(services, accountId)
        if (everywhere === true && account.auth.kind === 'chatgpt') {
          try {
            await revokeRefreshToken(services.issuer, account.auth.refreshToken)
          } catch (error) {
            throw serverError(
              `Could not sign the account out at OpenAI, so it was kept on this machine (${asServerError(error, 'The revocation').message}) Try again, or call account/logout without "everywhere" to remove it from this machine only.`,
            )
          }
        }
        try {
          await services.store.remove(account.id)
        } catch (error) {
          throw asServerError(error, 'Removing the account')
        }
        services.tokens.forget(account.id)
        context.broadcast('account/updated', { account: null, removedAccountId: account.id })
        return {}
      },
    },
  }
}

async function target(
  services: AppServerServices,
  accountId: string | undefined,
): Promise<StoredAccount> {
  let accounts: StoredAccount[]
  try {
    if (accountId !== undefined) {
      const account = await services.store.get(accountId)
      if (account === null) throw unknownAccount()
      return account
    }
    accounts = await services.store.list()
  } catch (error) {
    throw asServerError(error, 'Reading the accounts')
  }
  const [only] = accounts
  if (only === undefined) throw noAccount()
  if (accounts.length > 1) {
    throw serverError(
      'Several accounts are signed in: pass "accountId" (call account/list for the ids).',
    )
  }
  return only
}
