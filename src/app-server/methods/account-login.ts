/**
 * `account/login/start` and `account/login/cancel`. `{type: "chatgpt"}` answers `{type, loginId, authUrl}` and
 * `{type: "chatgptDeviceCode"}` answers `{type, loginId, verificationUrl, userCode}`; both finish in the
 * background (login-sessions.ts). `{type: "apiKey", apiKey}` stores the key as an account of its own, id
 * `apikey-<first 16 hex of its SHA-256>` (the id the auth.json import gives it, so it is never duplicated),
 * answers `{type: "apiKey", accountId}` and broadcasts `account/updated`; it has no `loginId` because nothing
 * runs on. The key is never echoed, not even in an invalid-params error.
 */
import { z } from 'zod'
import { Secret, sha256Hex } from '../../lib/index.js'
import type { StoredAccount } from '../../store/index.js'
import type { RpcMethod } from '../rpc/rpc-method.js'
import { accountSummary } from './account-view.js'
import type { LoginSessions } from './login-sessions.js'
import { asServerError } from './method-failure.js'
import { parseParams } from './parse-params.js'
import type { AppServerServices } from './services.js'

const startParams = z.discriminatedUnion('type', [
  z.object({ type: z.literal('chatgpt') }).loose(),
  z.object({ type: z.literal('chatgptDeviceCode') }).loose(),
  z
    .object({
      type: z.literal('apiKey'),
      apiKey: z
        .string()
        .min(1, 'must not be empty')
        .max(1024, 'is too long')
        .regex(/^\S+$/, 'must not contain spaces'),
    })
    .loose(),
])

const cancelParams = z.object({ loginId: z.string().min(1) }).loose()

const START_EXPECTED =
  '{"type": "chatgpt"}, {"type": "chatgptDeviceCode"} or {"type": "apiKey", "apiKey": "sk-…"}'

/**
 * `account/login/start` and `account/login/cancel` over `sessions`.
 * @example
 * const methods = createAccountLoginMethods(services, new LoginSessions({ store, tokens, issuer }))
 */
export function createAccountLoginMethods(
  services: AppServerServices,
  sessions: LoginSessions,
): Record<string, RpcMethod> {
  return {
    'account/login/start': {
      async handle(params, context) {
        const request = parseParams(startParams, params, START_EXPECTED)
        const broadcast = context.broadcast.bind(context)
        switch (request.type) {
          case 'chatgpt':
            return { type: 'chatgpt', ...(await sessions.startBrowser(broadcast)) }
          case 'chatgptDeviceCode':
            return { type: 'chatgptDeviceCode', ...(await sessions.startDeviceCode(broadcast)) }
          case 'apiKey': {
            let account: StoredAccount
            try {
              account = await storeApiKey(services, request.apiKey)
            } catch (error) {
              throw asServerError(error, 'Storing the API key')
            }
            services.tokens.forget(account.id)
            broadcast('account/updated', { account: accountSummary(account) })
            return { type: 'apiKey', accountId: account.id }
          }
        }
      },
    },
    'account/login/cancel': {
      async handle(params) {
        const { loginId } = parseParams(
          cancelParams,
          params,
          '{"loginId": "<the loginId account/login/start answered>"}',
        )
        return { status: await sessions.cancel(loginId) }
      },
    },
  }
}

async function storeApiKey(services: AppServerServices, apiKey: string): Promise<StoredAccount> {
  const now = services.clock?.now() ?? Date.now()
  const id = `apikey-${sha256Hex(apiKey).slice(0, 16)}`
  const existing = await services.store.get(id)
  const account: StoredAccount = {
    id,
    label: existing?.label ?? null,
    email: existing?.email ?? null,
    plan: null,
    auth: { kind: 'apiKey', apiKey: Secret.from(apiKey) },
    status: 'active',
    statusReason: null,
    addedAt: existing?.addedAt ?? now,
    lastUsedAt: existing?.lastUsedAt ?? null,
  }
  await services.store.put(account)
  return account
}
