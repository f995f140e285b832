/**
 * Turning a fresh sign-in into a stored account. A person who signs in again to an account they already have
 * keeps its label and history; the new tokens replace the old chain and the account becomes active again (this is
 * how `needs_login` is cleared).
 */
import type { IdTokenClaims } from '../oauth/claims.js'
import { parseAccessTokenClaims, parseIdTokenClaims } from '../oauth/claims.js'
import type { TokenSet } from '../oauth/token-response.js'
import type { CredentialStore, StoredAccount } from './credential-store.js'

/** Options of {@link accountFromSignIn}. */
export interface AccountFromSignInOptions {
  /** A name the person chose (`--label`); kept from the existing account when absent. */
  label?: string | null
  /** The account as stored before this sign-in, if any. */
  existing?: StoredAccount | null
  /** Unix milliseconds. */
  now: number
}

/**
 * Builds the stored account for a sign-in's tokens.
 * @example
 * const claims = parseIdTokenClaims(tokens.idToken)
 * const existing = await store.get(claims.chatgptAccountId)
 * await store.put(accountFromSignIn(tokens, { existing, now: Date.now() }))
 */
export function accountFromSignIn(
  tokens: TokenSet,
  options: AccountFromSignInOptions,
): StoredAccount {
  const claims: IdTokenClaims = parseIdTokenClaims(tokens.idToken)
  const access = parseAccessTokenClaims(tokens.accessToken)
  const existing = options.existing ?? null
  const expiresAt =
    access.expiresAt ?? (tokens.expiresIn === null ? null : options.now + tokens.expiresIn * 1000)
  return {
    id: claims.chatgptAccountId,
    label: options.label ?? existing?.label ?? null,
    email: claims.email,
    plan: claims.planType,
    auth: {
      kind: 'chatgpt',
      idToken: tokens.idToken,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt,
      lastRefresh: options.now,
    },
    status: 'active',
    statusReason: null,
    addedAt: existing?.addedAt ?? options.now,
    lastUsedAt: existing?.lastUsedAt ?? null,
  }
}

/**
 * Stores a sign-in's tokens: the existing account's label and history are kept, the new chain replaces the old.
 * Shared by every way in (CLI, app-server), so they all store a sign-in alike.
 * @example
 * const account = await saveSignIn(store, tokens, { label: 'work', now: Date.now() })
 */
export async function saveSignIn(
  store: CredentialStore,
  tokens: TokenSet,
  options: { readonly label?: string | null; readonly now: number },
): Promise<StoredAccount> {
  const existing = await store.get(parseIdTokenClaims(tokens.idToken).chatgptAccountId)
  const account = accountFromSignIn(tokens, {
    existing,
    now: options.now,
    ...(options.label === undefined ? {} : { label: options.label }),
  })
  await store.put(account)
  return account
}
