/**
 * The pure record transformations of a refresh, applied inside `CredentialStore.update` so each is one atomic
 * read-modify-write: marking a refresh as in flight before the request leaves, writing the issuer's answer
 * (RFC 6749 §6: every present field replaces the stored one, a missing refresh token keeps the old one), and
 * marking the account `needs_login`. Each checks that the stored refresh token is still the one this process
 * sent, so a process that lost a race can never overwrite newer credentials (SECURITY.md C5.5, RT-06).
 */
import type { Secret } from '../lib/index.js'
import { parseAccessTokenClaims, type RefreshedTokens } from '../oauth/index.js'
import type { ChatgptAuth, StoredAccount } from '../store/index.js'

/** The `statusReason` recorded when a refresh was interrupted by a crash after it may have been sent. */
export const INTERRUPTED_REFRESH_REASON = 'ERR_REFRESH_FAILED'

/** A stored ChatGPT account (the `auth` narrowed). */
export type StoredChatgptAccount = StoredAccount & { auth: ChatgptAuth }

/**
 * True when the account is a ChatGPT one.
 *
 * @example
 * if (!isChatgptAccount(account)) throw new BrokerError('ERR_INVALID_REQUEST', 'API-key account')
 */
export function isChatgptAccount(account: StoredAccount): account is StoredChatgptAccount {
  return account.auth.kind === 'chatgpt'
}

/**
 * True when a refresh of the stored refresh token is marked as in flight (`refreshInFlightSince`). The mark is
 * written (atomically, under the account lock) before the request is sent and cleared with the answer or the
 * failure. A lock holder that finds it was preceded by a holder that died after sending: the stored refresh token
 * may already be spent, and presenting it again would be a reuse that revokes the sign-in everywhere
 * (SECURITY.md C5.4), so the account becomes `needs_login` instead.
 *
 * @example
 * if (refreshInFlight(account)) throw await interrupted(account)
 */
export function refreshInFlight(account: StoredAccount): boolean {
  return account.refreshInFlightSince != null
}

/**
 * True when the stored account still holds `refreshToken` (compared in constant time).
 *
 * @example
 * holdsRefreshToken(current, sent) // false: another process rotated meanwhile
 */
export function holdsRefreshToken(account: StoredAccount, refreshToken: Secret): boolean {
  return account.auth.kind === 'chatgpt' && account.auth.refreshToken.equals(refreshToken)
}

/**
 * The access token's `exp` in unix milliseconds, or null when it has none or cannot be read (a token that cannot be
 * read is still stored: losing a rotation would be worse).
 *
 * @example
 * expiryOf(tokens.accessToken) // 1767225600000
 */
export function expiryOf(accessToken: Secret): number | null {
  try {
    return parseAccessTokenClaims(accessToken).expiresAt
  } catch {
    return null
  }
}

/**
 * Marks a refresh of `sent` as in flight since `now`; unchanged (and `claimed` false) when the stored token is
 * another one.
 *
 * @example
 * let claimed = false
 * await store.update(id, (current) => ({ claimed } = markInFlight(current, sent, clock.now())).account)
 */
export function markInFlight(
  current: StoredAccount,
  sent: Secret,
  now: number,
): { account: StoredAccount; claimed: boolean } {
  if (!holdsRefreshToken(current, sent)) return { account: current, claimed: false }
  return { account: { ...current, refreshInFlightSince: now }, claimed: true }
}

/**
 * Clears the in-flight mark of `sent` (after a transient failure); anything else is left as it is.
 *
 * @example
 * await store.update(id, (current) => clearInFlight(current, sent))
 */
export function clearInFlight(current: StoredAccount, sent: Secret): StoredAccount {
  if (!refreshInFlight(current) || !holdsRefreshToken(current, sent)) return current
  return { ...current, refreshInFlightSince: null }
}

/**
 * Writes the issuer's answer to a refresh of `sent`: each present token replaces the stored one, a missing refresh
 * token keeps the old one (RT-01), `expiresAt` comes from the new access token's `exp`, `lastRefresh` is `now`, and
 * the account is active again (a `disabled` account stays disabled) with no refresh in flight. The answer is
 * written even when the stored refresh token is no longer `sent` — the issuer just spent `sent`, so these are the
 * newest tokens there are.
 *
 * @example
 * const saved = await store.update(id, (current) => withRefreshedTokens(current, sent, tokens, clock.now()))
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export function withRefreshedTokens(
  current: StoredAccount,
  sent: Secret,
  tokens: RefreshedTokens,
  now: number,
): StoredAccount {
  const previous = current.auth.kind === 'chatgpt' ? current.auth : null
  const accessToken = tokens.accessToken ?? previous?.accessToken
  const idToken = tokens.idToken ?? previous?.idToken
  if (accessToken === undefined || idToken === undefined) {
    // The account was turned into an API-key account meanwhile and the answer lacks a token: keep it as it is.
    return current
  }
  const auth: ChatgptAuth = {
    kind: 'chatgpt',
    idToken,
    accessToken,
    refreshToken: tokens.refreshToken ?? previous?.refreshToken ?? sent,
    expiresAt: tokens.accessToken === null ? (previous?.expiresAt ?? null) : expiryOf(accessToken),
    lastRefresh: now,
  }
  return {
    ...current,
    auth,
    status: current.status === 'disabled' ? 'disabled' : 'active',
    statusReason: current.status === 'disabled' ? current.statusReason : null,
    refreshInFlightSince: null,
  }
}

/**
 * Marks the account `needs_login` with `reason` (and no refresh in flight) when it still holds `sent`; the
 * credentials stay byte for byte (SECURITY.md C5.5: never deleted, never replaced by a stub). When another process
 * has rotated meanwhile, the account is left as it is (`marked` false).
 *
 * @example
 * await store.update(id, (current) => withNeedsLogin(current, sent, 'ERR_REFRESH_REUSED').account)
 */
export function withNeedsLogin(
  current: StoredAccount,
  sent: Secret,
  reason: string,
): { account: StoredAccount; marked: boolean } {
  if (!holdsRefreshToken(current, sent)) return { account: current, marked: false }
  if (current.status === 'disabled') {
    return { account: { ...current, refreshInFlightSince: null }, marked: true }
  }
  return {
    account: {
      ...current,
      status: 'needs_login',
      statusReason: reason,
      refreshInFlightSince: null,
    },
    marked: true,
  }
}
