/**
 * `account/list` and `account/read`: who is signed in, with what plan and in what state, and — when the server
 * runs a pool — whether the pool can use each account right now and until when it cannot. Read from the store on
 * every call (another process may have signed in or out). Never a credential.
 */
import { z } from 'zod'
import type { AccountPool, PoolAccountView } from '../../accounts/index.js'
import type { RpcMethod } from '../rpc/rpc-method.js'
import {
  accountReadView,
  accountSummary,
  defaultAccount,
  poolState,
  resolveAccount,
  type AccountListEntry,
  type AccountReadView,
} from './account-view.js'
import { asServerError } from './method-failure.js'
import { parseParams } from './parse-params.js'
import type { AppServerServices } from './services.js'

/** The result of `account/list`. */
export interface AccountListResult {
  accounts: AccountListEntry[]
  /** The account calls without `accountId` use (pinned, else first active, else first); absent when none. */
  activeAccountId?: string
}

/** The result of `account/read`. */
export interface AccountReadResult {
  account: AccountReadView | null
  /** Always true: every upstream codex-broker speaks to needs a ChatGPT sign-in or an API key. */
  requiresOpenaiAuth: boolean
}

const listParams = z.object({}).loose()
const readParams = z.object({ accountId: z.string().min(1).optional() }).loose()

/**
 * The pinned account of the pool, if the server has one.
 * @example
 * const pinned = await pinnedAccountId(services.pool)
 */
export async function pinnedAccountId(pool: AccountPool | undefined): Promise<string | null> {
  if (pool === undefined) return null
  const views = await pool.snapshot()
  return views.find((view) => view.pinned)?.account.id ?? null
}

/**
 * `account/list` and `account/read`.
 * @example
 * const methods = createAccountReadMethods(services)
 * await methods['account/list']?.handle(undefined, context) // { accounts: [...], activeAccountId }
 */
export function createAccountReadMethods(services: AppServerServices): Record<string, RpcMethod> {
  return {
    'account/list': {
      async handle(params): Promise<AccountListResult> {
        parseParams(listParams, params, '{} (or no params)')
        try {
          const accounts = await services.store.list()
          const views = services.pool === undefined ? null : await services.pool.snapshot()
          const byId = new Map<string, PoolAccountView>(
            (views ?? []).map((view) => [view.account.id, view]),
          )
          const pinned = views?.find((view) => view.pinned)?.account.id ?? null
          const active = defaultAccount(accounts, pinned)
          return {
            accounts: accounts.map((account) => {
              const view = byId.get(account.id)
              return view === undefined
                ? accountSummary(account)
                : { ...accountSummary(account), pool: poolState(view) }
            }),
            ...(active === null ? {} : { activeAccountId: active.id }),
          }
        } catch (error) {
          throw asServerError(error, 'Listing the accounts')
        }
      },
    },
    'account/read': {
      async handle(params): Promise<AccountReadResult> {
        const { accountId } = parseParams(
          readParams,
          params,
          '{} for the default account, or {"accountId": "<id from account/list>"}',
        )
        try {
          if (accountId !== undefined) {
            const account = await resolveAccount(services.store, accountId, null)
            return { account: accountReadView(account), requiresOpenaiAuth: true }
          }
          const account = defaultAccount(
            await services.store.list(),
            await pinnedAccountId(services.pool),
          )
          return {
            account: account === null ? null : accountReadView(account),
            requiresOpenaiAuth: true,
          }
        } catch (error) {
          throw asServerError(error, 'Reading the account')
        }
      },
    },
  }
}
