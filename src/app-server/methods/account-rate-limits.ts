/**
 * `account/rateLimits/read {accountId?}`: the account's two usage windows live from the backend's `/wham/usage`,
 * with a token from the token manager (refreshed if due, recovered once after a 401), in the official
 * app-server's shape: `{rateLimits: {primary, secondary}, planType}`, each window
 * `{usedPercent, windowDurationMins, resetsAt}` with `resetsAt` in unix seconds. When the server has a pool the
 * reading is recorded there too (a window at 100 % starts a cooldown).
 */
import { z } from 'zod'
import { isBrokerError } from '../../lib/index.js'
import { fetchUsage, type UsageSnapshot, type UsageWindow } from '../../upstream/index.js'
import type { RpcMethod } from '../rpc/rpc-method.js'
import { pinnedAccountId } from './account-read.js'
import { resolveAccount } from './account-view.js'
import { asServerError, serverError, SIGN_IN_AGAIN } from './method-failure.js'
import { parseParams } from './parse-params.js'
import type { AppServerServices } from './services.js'

/** One window of `account/rateLimits/read`. */
export interface RateLimitWindow {
  usedPercent: number
  windowDurationMins: number
  /** Unix seconds. */
  resetsAt: number
}

/** The result of `account/rateLimits/read`. */
export interface RateLimitsResult {
  rateLimits: { primary: RateLimitWindow | null; secondary: RateLimitWindow | null }
  planType: string
}

const readParams = z.object({ accountId: z.string().min(1).optional() }).loose()

/**
 * `account/rateLimits/read`.
 * @example
 * const { rateLimits } = await methods['account/rateLimits/read'].handle({}, context)
 */
export function createAccountRateLimitsMethods(
  services: AppServerServices,
): Record<string, RpcMethod> {
  return {
    'account/rateLimits/read': {
      async handle(params, context): Promise<RateLimitsResult> {
        const { accountId } = parseParams(
          readParams,
          params,
          '{} for the default account, or {"accountId": "<id from account/list>"}',
        )
        const action = 'Reading the rate limits'
        try {
          const account = await resolveAccount(
            services.store,
            accountId,
            accountId === undefined ? await pinnedAccountId(services.pool) : null,
          )
          if (account.auth.kind !== 'chatgpt') {
            throw serverError(
              'This is an API-key account: it has no ChatGPT rate limits. Pass the accountId of a ChatGPT account (see account/list).',
            )
          }
          if (account.status !== 'active') {
            throw serverError(`This account must sign in again. ${SIGN_IN_AGAIN}`)
          }
          const usage = await readUsage(services, account.id, context.signal)
          if (services.pool !== undefined) {
            const { primary, secondary, credits } = usage
            await services.pool.recordQuota(account.id, {
              primary,
              secondary,
              credits,
              observedAt: services.clock?.now() ?? Date.now(),
            })
          }
          return {
            rateLimits: { primary: toWindow(usage.primary), secondary: toWindow(usage.secondary) },
            planType: usage.planType,
          }
        } catch (error) {
          throw asServerError(error, action)
        }
      },
    },
  }
}

async function readUsage(
  services: AppServerServices,
  accountId: string,
  signal: AbortSignal,
): Promise<UsageSnapshot> {
  const base = { backendBase: services.backendBase, identity: services.identity }
  const credential = await services.tokens.getAccessToken(accountId, { signal })
  try {
    return await fetchUsage({ ...credential, ...base })
  } catch (error) {
    if (!isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')) throw error
    const recovered = await services.tokens.recoverUnauthorized(accountId, credential.accessToken, {
      signal,
    })
    return fetchUsage({ ...recovered, ...base })
  }
}

function toWindow(window: UsageWindow | null): RateLimitWindow | null {
  if (window === null) return null
  return {
    usedPercent: window.usedPercent,
    windowDurationMins: window.windowMinutes,
    resetsAt: Math.floor(window.resetsAt / 1000),
  }
}
