/**
 * What the app-server shows of a stored account, and which account a call means. A view names who (id, email,
 * label), what (plan, kind) and in what state — never a credential: the shapes are built field by field from the
 * stored account, so a token, an id token, a refresh token or an API key cannot slip in by spreading.
 * Without an `accountId` a call means the default account: the pool's pinned one, else the first active one,
 * else the first one.
 */
import type { PoolAccountView } from '../../accounts/index.js'
import type { AccountStatus, CredentialStore, StoredAccount } from '../../store/index.js'
import { serverError, SIGN_IN_AGAIN } from './method-failure.js'

/** An account as `account/list` and `account/updated` show it. */
export interface AccountSummary {
  id: string
  email: string | null
  label: string | null
  plan: string | null
  kind: 'chatgpt' | 'apiKey'
  status: AccountStatus
}

/** The pool's opinion of an account (only when the server has a pool). */
export interface AccountPoolState {
  usable: boolean
  /** Why not: `needs_login`, `disabled`, `usage_limit`, `quota_exhausted`, `circuit_open`, `probing`, `wrong_kind`. */
  reason?: string
  /** Until when it cannot be used, unix seconds. */
  until?: number
}

/** One entry of `account/list`. */
export interface AccountListEntry extends AccountSummary {
  pool?: AccountPoolState
}

/** The account of `account/read` (the official app-server's shape, plus the id). */
export type AccountReadView =
  | { type: 'chatgpt'; id: string; email: string | null; planType: string | null }
  | { type: 'apiKey'; id: string }

/**
 * The summary of a stored account.
 * @example
 * context.broadcast('account/updated', { account: accountSummary(account) })
 */
export function accountSummary(account: StoredAccount): AccountSummary {
  return {
    id: account.id,
    email: account.email,
    label: account.label,
    plan: account.plan,
    kind: account.auth.kind,
    status: account.status,
  }
}

/**
 * The `account/read` view of a stored account.
 * @example
 * return { account: account === null ? null : accountReadView(account), requiresOpenaiAuth: true }
 */
export function accountReadView(account: StoredAccount): AccountReadView {
  if (account.auth.kind === 'apiKey') return { type: 'apiKey', id: account.id }
  return { type: 'chatgpt', id: account.id, email: account.email, planType: account.plan }
}

/**
 * The pool fields of an account's entry.
 * @example
 * poolState(view) // { usable: false, reason: 'usage_limit', until: 1767225600 }
 */
export function poolState(view: PoolAccountView): AccountPoolState {
  const unusable = view.unusable
  if (unusable === null) return { usable: true }
  switch (unusable.kind) {
    case 'cooling':
      return { usable: false, reason: unusable.reason, until: toUnixSeconds(unusable.until) }
    case 'circuit_open':
      return { usable: false, reason: 'circuit_open', until: toUnixSeconds(unusable.until) }
    default:
      return { usable: false, reason: unusable.kind }
  }
}

/**
 * The account a call without `accountId` means: `pinnedId` when it is stored, else the first active account,
 * else the first one; null when there is none.
 * @example
 * const account = defaultAccount(await store.list(), null)
 */
export function defaultAccount(
  accounts: readonly StoredAccount[],
  pinnedId: string | null,
): StoredAccount | null {
  const pinned = pinnedId === null ? undefined : accounts.find((a) => a.id === pinnedId)
  return pinned ?? accounts.find((a) => a.status === 'active') ?? accounts[0] ?? null
}

/**
 * The account named by `accountId`, or the default one; throws `-32000` saying what to do when there is none.
 * @example
 * const account = await resolveAccount(services.store, params.accountId, null)
 */
export async function resolveAccount(
  store: CredentialStore,
  accountId: string | undefined,
  pinnedId: string | null,
): Promise<StoredAccount> {
  if (accountId !== undefined) {
    const account = await store.get(accountId)
    if (account === null) throw unknownAccount()
    return account
  }
  const account = defaultAccount(await store.list(), pinnedId)
  if (account === null) throw noAccount()
  return account
}

/** `-32000` for an `accountId` that names no stored account (the id is not echoed). */
export function unknownAccount(): Error {
  return serverError(
    'No account has this accountId. Call account/list for the ids of the accounts.',
  )
}

/** `-32000` when no account is stored. */
export function noAccount(): Error {
  return serverError(`No account is signed in. ${SIGN_IN_AGAIN}`)
}

function toUnixSeconds(ms: number): number {
  return Math.floor(ms / 1000)
}
