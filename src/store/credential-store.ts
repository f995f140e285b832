/**
 * The `CredentialStore` contract: where accounts and their credentials live (DESIGN.md "Credentials at rest").
 * Three implementations share it — file (default), memory and Redis — so the token manager, the pool and the
 * surfaces never care which one they hold. Secrets are `Secret` values in memory and never leave through a log.
 */
import type { Secret } from '../lib/index.js'

/** Whether an account may be used. `needs_login` is remembered until the user signs in again. */
export type AccountStatus = 'active' | 'needs_login' | 'disabled'

/** Credentials of a ChatGPT sign-in (PROTOCOL.md §2–5). */
export interface ChatgptAuth {
  kind: 'chatgpt'
  idToken: Secret
  accessToken: Secret
  refreshToken: Secret
  /** Expiry of the access token (its `exp`), unix milliseconds; null when the token has no `exp`. */
  expiresAt: number | null
  /** When the tokens were last obtained or refreshed, unix milliseconds. */
  lastRefresh: number
}

/** An OpenAI API key (PROTOCOL.md §8). */
export interface ApiKeyAuth {
  kind: 'apiKey'
  apiKey: Secret
}

/** One account as stored. */
export interface StoredAccount {
  /** `chatgpt_account_id` for ChatGPT accounts; a generated id (`apikey-…`) for API keys. */
  id: string
  label: string | null
  email: string | null
  plan: string | null
  auth: ChatgptAuth | ApiKeyAuth
  status: AccountStatus
  /** Why the account is not active (a BrokerError code such as `ERR_REFRESH_REUSED`), for `status`. */
  statusReason: string | null
  /** Unix milliseconds. */
  addedAt: number
  /** Unix milliseconds, or null if never used. */
  lastUsedAt: number | null
  /**
   * Unix milliseconds at which the holder of the account lock was about to send a refresh request; null (or
   * absent) when no refresh is out. It is written before the request leaves and cleared with the answer or the
   * failure, so a later lock holder that finds it knows a holder died after possibly spending the stored refresh
   * token, and marks the account `needs_login` instead of resending it (a reuse would revoke the sign-in).
   */
  refreshInFlightSince?: number | null
}

/** Options of {@link CredentialStore.withAccountLock}. */
export interface AccountLockOptions {
  /** Give up with `ERR_LOCK_TIMEOUT` after this long (default 30 s). */
  timeoutMs?: number
}

/**
 * Where accounts live. Every read goes to the backing store (no stale cache), because another process may have
 * rotated a refresh token a moment ago; every write is atomic.
 */
export interface CredentialStore {
  /** All accounts, in the order they were added. */
  list(): Promise<StoredAccount[]>
  /** One account, read fresh from the backing store; null if absent. */
  get(id: string): Promise<StoredAccount | null>
  /** Inserts or replaces an account. */
  put(account: StoredAccount): Promise<void>
  /**
   * Read-modify-write of one account, atomic against other writers of the same store (other accounts' changes
   * made meanwhile are kept). `change` gets the fresh value; throws `ERR_NOT_FOUND` if the account is gone.
   */
  update(id: string, change: (current: StoredAccount) => StoredAccount): Promise<StoredAccount>
  /** Removes an account; answers whether it existed. */
  remove(id: string): Promise<boolean>
  /**
   * Runs `task` holding the account's exclusive refresh lock, across processes (file lock under `home/locks/`,
   * or the Redis lock). A holder that died is detected and its lock recovered.
   */
  withAccountLock<T>(id: string, task: () => Promise<T>, options?: AccountLockOptions): Promise<T>
  /**
   * Optional: resolves when the stored accounts may have changed (another process wrote), or when `signal`
   * aborts. A process waiting for another's refresh uses it to wake at once instead of at its next poll; a store
   * without it is simply polled.
   */
  onceChanged?(signal: AbortSignal): Promise<void>
}
