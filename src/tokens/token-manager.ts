/**
 * `TokenManager`: a valid access token per account, refreshed so that a rotated refresh token is never lost and
 * never presented twice (DESIGN.md "Refresh", PROTOCOL.md §4, SECURITY.md C5 and battery RT). The steps of
 * {@link TokenManager.getAccessToken}:
 *
 * 1. a token in memory whose `exp` is more than the proactive window away is returned at once;
 * 2. otherwise one promise per account runs the refresh (in-process single flight), everyone else awaits it;
 * 3. the store is read without the lock first — a fresh token another process wrote is simply adopted — and
 *    otherwise the account's cross-process lock is taken and the store **re-read**: if another process rotated
 *    meanwhile, its tokens are adopted and nothing is sent;
 * 4. the refresh is POSTed once, with the refresh token just read from the store (never a copy from memory), after
 *    an in-flight mark (`refreshInFlightSince`) is written; there is no automatic retry;
 * 5. the answer is written with `store.update` before the lock is released;
 * 6. a permanent failure marks the account `needs_login` (credentials kept), and so does a transient one whose
 *    request went out and whose answer was lost (the issuer may have spent the token; SECURITY.md C5.4, RT-05);
 *    any other transient failure keeps everything, and the next call tries again.
 *
 * The in-flight mark closes the crash window of step 4: a holder that dies after sending leaves the mark behind,
 * and the next holder, which cannot know whether the issuer already spent the stored refresh token, marks the
 * account `needs_login` rather than presenting a possibly spent token (a reuse that revokes the sign-in on every
 * machine, SECURITY.md C5.4).
 */
import {
  BrokerError,
  type Clock,
  createLogger,
  isBrokerError,
  type Logger,
  type Secret,
  systemClock,
  untilAborted,
} from '../lib/index.js'
import {
  type IssuerConfig,
  parseAccessTokenClaims,
  type RefreshedTokens,
  type RefreshReason,
  refreshTokens,
  isAmbiguousRefreshFailure,
} from '../oauth/index.js'
import type { AccountLockOptions, CredentialStore, StoredAccount } from '../store/index.js'
import {
  LOGIN_HINT,
  needsLogin,
  permanentRefreshCode,
  transientFailure,
} from './refresh-failure.js'
import {
  DEFAULT_PROACTIVE_WINDOW_MS,
  DEFAULT_SCHEDULED_AFTER_MS,
  isFresh,
  type RefreshPolicy,
  refreshReasonFor,
  type TokenDates,
} from './refresh-policy.js'
import {
  clearInFlight,
  INTERRUPTED_REFRESH_REASON,
  isChatgptAccount,
  holdsRefreshToken,
  markInFlight,
  refreshInFlight,
  type StoredChatgptAccount,
  withNeedsLogin,
  withRefreshedTokens,
} from './stored-tokens.js'

/**
 * Sends one refresh request (PROTOCOL.md §4) and answers the issuer's tokens, or throws a `BrokerError`:
 * `ERR_REFRESH_REUSED`, `ERR_REFRESH_EXPIRED`, `ERR_REFRESH_REVOKED`, `ERR_REFRESH_FAILED` (permanent) or
 * `ERR_REFRESH_TRANSIENT`. It must send at most once per call.
 */
export type RefreshFunction = (
  refreshToken: Secret,
  reason: RefreshReason,
) => Promise<RefreshedTokens>

/** Options of the {@link TokenManager} constructor. */
export interface TokenManagerOptions {
  /** Where the accounts live; its `withAccountLock` is the cross-process refresh lock. */
  store: CredentialStore
  /** The issuer to refresh against when `refresh` is not given. */
  issuer?: IssuerConfig
  /** The refresh request (default: `refreshTokens` of `src/oauth` bound to `issuer`). */
  refresh?: RefreshFunction
  /** The clock (default the system clock). */
  clock?: Clock
  /** Where `refresh.*` events go (default: nowhere). Tokens are never logged. */
  logger?: Logger
  /** Refresh when `exp` is closer than this, in milliseconds (default 5 minutes). */
  proactiveWindowMs?: number
  /** Without `exp`, refresh once the last refresh is this old, in milliseconds (default 8 days). */
  scheduledAfterMs?: number
  /** Give up waiting for another process's refresh lock after this long (default: the store's, 30 s). */
  lockTimeoutMs?: number
}

/** Options of {@link TokenManager.getAccessToken} and {@link TokenManager.recoverUnauthorized}. */
export interface GetAccessTokenOptions {
  /**
   * Stops this caller's wait. A refresh already under way is not aborted (a refresh abandoned after it was sent
   * would lose the rotated token); its result is kept for the next caller.
   */
  signal?: AbortSignal
}

/** A usable ChatGPT access token and the account id to send with it (`chatgpt-account-id`). */
export interface ChatgptAccessToken {
  accessToken: Secret
  chatgptAccountId: string
}

/** What a surface needs to call upstream for an account, whichever kind it is. */
export type AccountCredential =
  ({ kind: 'chatgpt' } & ChatgptAccessToken) | { kind: 'apiKey'; apiKey: Secret }

/** The tokens this process holds for an account. */
interface HeldTokens extends TokenDates {
  accessToken: Secret
  chatgptAccountId: string
}

/** A refresh (or adoption) under way for an account; `rejected` is set for an unauthorized recovery. */
interface Flight {
  readonly promise: Promise<HeldTokens>
  readonly rejected: Secret | null
}

/** The state of one wait for the account lock, shared by the lock task and the store poller. */
interface LockWait {
  /** The lock task has started: the poller must not adopt any more. */
  entered: boolean
  /** The lock wait has ended (entered and finished, or failed). */
  done: boolean
  /** What the poller adopted, if it won. */
  adopted: HeldTokens | null
  /** Aborted when the poller is no longer needed, so its pending sleep ends at once. */
  stopPolling: AbortController
}

/**
 * How often a process waiting for another's refresh re-reads the store: every 10 ms, or every 20 times the last
 * read's duration when reads are slow, at most every 250 ms.
 */
const ADOPTION_POLL_MIN_MS = 10
const ADOPTION_POLL_MAX_MS = 250
const ADOPTION_POLL_COST_FACTOR = 20

const silentLogger = (): Logger => createLogger({ level: 'silent' })

/**
 * Valid access tokens per account, refreshed single-flight within the process and across processes.
 *
 * @example
 * const tokens = new TokenManager({ store: new FileCredentialStore({ home }), issuer })
 * const { accessToken, chatgptAccountId } = await tokens.getAccessToken(accountId)
 * let response = await callBackend(accessToken, chatgptAccountId)
 * if (response.status === 401) {
 *   // at most once: a second 401 is reported to the caller
 *   const recovered = await tokens.recoverUnauthorized(accountId, accessToken)
 *   response = await callBackend(recovered.accessToken, recovered.chatgptAccountId)
 * }
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export class TokenManager {
  readonly #store: CredentialStore
  readonly #refresh: RefreshFunction
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #policy: RefreshPolicy
  readonly #lockOptions: AccountLockOptions
  readonly #held = new Map<string, HeldTokens>()
  readonly #apiKeys = new Map<string, Secret>()
  readonly #flights = new Map<string, Flight>()
  /** Bumped by `forget`, so a refresh that ends afterwards does not repopulate the memory. */
  readonly #generation = new Map<string, number>()

  constructor(options: TokenManagerOptions) {
    const { issuer, refresh } = options
    if (refresh !== undefined) {
      this.#refresh = refresh
    } else if (issuer !== undefined) {
      this.#refresh = (refreshToken, reason) => refreshTokens(issuer, refreshToken, reason)
    } else {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        'TokenManager needs an issuer (or a refresh function) to refresh tokens.',
      )
    }
    this.#store = options.store
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger()
    this.#policy = {
      proactiveWindowMs: options.proactiveWindowMs ?? DEFAULT_PROACTIVE_WINDOW_MS,
      scheduledAfterMs: options.scheduledAfterMs ?? DEFAULT_SCHEDULED_AFTER_MS,
    }
    this.#lockOptions =
      options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }
  }

  /**
   * A valid access token for a ChatGPT account, refreshed if its `exp` is within the proactive window (or, without
   * `exp`, if the last refresh is older than the scheduled interval). Throws `ERR_NEEDS_LOGIN` for an account that
   * must sign in again (or is disabled), `ERR_REFRESH_TRANSIENT` when the issuer could not be reached (credentials
   * kept; a later call tries again), `ERR_INVALID_REQUEST` for an API-key account, `ERR_NOT_FOUND` for an unknown
   * one and `ERR_LOCK_TIMEOUT` when another process held the refresh lock too long.
   *
   * @example
   * const { accessToken, chatgptAccountId } = await tokens.getAccessToken(accountId, { signal })
   * headers.set('authorization', `Bearer ${accessToken.reveal()}`)
   * headers.set('chatgpt-account-id', chatgptAccountId)
   */
  async getAccessToken(
    accountId: string,
    options: GetAccessTokenOptions = {},
  ): Promise<ChatgptAccessToken> {
    const held = this.#held.get(accountId)
    if (held !== undefined && isFresh(held, this.#clock.now(), this.#policy)) return grantOf(held)
    return grantOf(await untilAborted(this.#obtain(accountId, null), options.signal))
  }

  /**
   * The backend answered 401 for `rejected`: re-reads the store under the lock and answers the stored token when
   * it differs (another process rotated), otherwise refreshes once with reason `unauthorized_recovery`. The caller
   * retries its request at most once with the answer; a second 401 is the caller's to report (PROTOCOL.md §4, §7).
   *
   * @example
   * if (response.status === 401) {
   *   const recovered = await tokens.recoverUnauthorized(accountId, token.accessToken)
   *   response = await send(recovered) // once; a second 401 is reported
   * }
   */
  async recoverUnauthorized(
    accountId: string,
    rejected: Secret,
    options: GetAccessTokenOptions = {},
  ): Promise<ChatgptAccessToken> {
    const held = this.#held.get(accountId)
    if (held !== undefined) {
      if (!held.accessToken.equals(rejected) && isFresh(held, this.#clock.now(), this.#policy)) {
        return grantOf(held)
      }
      if (held.accessToken.equals(rejected)) this.#held.delete(accountId)
    }
    return grantOf(await untilAborted(this.#obtain(accountId, rejected), options.signal))
  }

  /**
   * What a surface sends upstream for an account: a ChatGPT access token (as {@link getAccessToken}) or the API key
   * of an API-key account. Throws `ERR_NEEDS_LOGIN` for a `needs_login` or `disabled` account.
   *
   * @example
   * const credential = await tokens.getCredential(accountId)
   * const bearer = credential.kind === 'apiKey' ? credential.apiKey : credential.accessToken
   */
  async getCredential(
    accountId: string,
    options: GetAccessTokenOptions = {},
  ): Promise<AccountCredential> {
    const apiKey = this.#apiKeys.get(accountId)
    if (apiKey !== undefined) return { kind: 'apiKey', apiKey }
    const held = this.#held.get(accountId)
    if (held !== undefined && isFresh(held, this.#clock.now(), this.#policy)) {
      return { kind: 'chatgpt', ...grantOf(held) }
    }
    const generation = this.#generationOf(accountId)
    const account = usable(accountId, await this.#store.get(accountId))
    if (account.auth.kind === 'apiKey') {
      if (this.#generationOf(accountId) === generation) {
        this.#apiKeys.set(accountId, account.auth.apiKey)
      }
      return { kind: 'apiKey', apiKey: account.auth.apiKey }
    }
    return { kind: 'chatgpt', ...(await this.getAccessToken(accountId, options)) }
  }

  /**
   * Drops what this process holds in memory for the account (after a sign-out, a removal or a new sign-in); the
   * next call reads the store again. A refresh under way still completes and is written to the store.
   *
   * @example
   * await store.remove(accountId)
   * tokens.forget(accountId)
   */
  forget(accountId: string): void {
    this.#held.delete(accountId)
    this.#apiKeys.delete(accountId)
    this.#generation.set(accountId, this.#generationOf(accountId) + 1)
  }

  /** Joins the flight under way for the account, or starts one. */
  async #obtain(accountId: string, rejected: Secret | null): Promise<HeldTokens> {
    for (;;) {
      const flight = this.#flights.get(accountId)
      if (flight === undefined) return this.#launch(accountId, rejected).promise
      const tokens = await flight.promise
      // A recovery needs a token other than the rejected one; the flight it joined may have adopted that very
      // token (still fresh by its `exp`), in which case it starts (or joins) a recovery of its own.
      if (rejected === null || !tokens.accessToken.equals(rejected)) return tokens
    }
  }

  #launch(accountId: string, rejected: Secret | null): Flight {
    const promise: Promise<HeldTokens> = this.#fly(accountId, rejected).finally(() => {
      if (this.#flights.get(accountId)?.promise === promise) this.#flights.delete(accountId)
    })
    // Callers that stopped waiting (abort) must not turn a failure into an unhandled rejection.
    promise.catch(ignore)
    const flight: Flight = { promise, rejected }
    this.#flights.set(accountId, flight)
    return flight
  }

  async #fly(accountId: string, rejected: Secret | null): Promise<HeldTokens> {
    const generation = this.#generationOf(accountId)
    // Step 3a: a fresh token another process already wrote needs neither the lock nor the network.
    const seen = chatgptOnly(usable(accountId, await this.#store.get(accountId)))
    if (this.#reasonToRefresh(seen, rejected) === null) {
      return this.#hold(seen, generation, 'store')
    }
    // Step 3b: under the account's cross-process lock, re-read and decide again. While this process waits for
    // the lock, it keeps reading the store: tokens another process writes meanwhile are adopted at once instead of
    // after the lock's backoff (the lock task then finds them adopted and does nothing).
    const wait: LockWait = {
      entered: false,
      done: false,
      adopted: null,
      stopPolling: new AbortController(),
    }
    const locked = this.#store
      .withAccountLock(
        accountId,
        async () => {
          wait.entered = true
          wait.stopPolling.abort()
          return wait.adopted ?? (await this.#underLock(accountId, rejected, generation))
        },
        this.#lockOptions,
      )
      .finally(() => {
        wait.done = true
        wait.stopPolling.abort()
      })
    return Promise.race([locked, this.#adoptWhileWaiting(accountId, rejected, generation, wait)])
  }

  /**
   * Polls the store while this process waits for the account lock; answers the first tokens that can be used as
   * they are, and never settles once the lock was entered (or the wait ended) without such tokens.
   */
  async #adoptWhileWaiting(
    accountId: string,
    rejected: Secret | null,
    generation: number,
    wait: LockWait,
  ): Promise<HeldTokens> {
    let interval = ADOPTION_POLL_MIN_MS
    for (;;) {
      // Wake at the next poll, or as soon as the store reports a write (a file store watches its folder).
      const tick = new AbortController()
      const signal = AbortSignal.any([wait.stopPolling.signal, tick.signal])
      try {
        await Promise.race([
          this.#clock.sleep(interval, signal),
          ...(this.#store.onceChanged ? [this.#store.onceChanged(signal)] : []),
        ])
      } catch {
        // The sleep was cut short: by the lock being entered (checked below) or by a reported write.
      } finally {
        tick.abort()
      }
      if (wait.stopPolling.signal.aborted) return forever() // the lock was entered or the wait ended
      if (lockWaitOver(wait)) return forever()
      const startedAt = this.#clock.now()
      let seen: StoredAccount | null
      try {
        seen = await this.#store.get(accountId)
      } catch {
        return forever() // the lock path reads the store again and reports the failure
      }
      if (lockWaitOver(wait)) return forever()
      // A read that costs more (a slow disk, a busy machine) is repeated less often: polling stays a small
      // fraction of this process's time however many processes wait.
      const cost = this.#clock.now() - startedAt
      interval = Math.min(
        ADOPTION_POLL_MAX_MS,
        Math.max(ADOPTION_POLL_MIN_MS, cost * ADOPTION_POLL_COST_FACTOR),
      )
      if (seen === null || seen.status !== 'active' || !isChatgptAccount(seen)) continue
      if (this.#reasonToRefresh(seen, rejected) !== null) continue
      wait.adopted = this.#hold(seen, generation, 'store')
      return wait.adopted
    }
  }

  async #underLock(
    accountId: string,
    rejected: Secret | null,
    generation: number,
  ): Promise<HeldTokens> {
    const account = chatgptOnly(usable(accountId, await this.#store.get(accountId)))
    if (refreshInFlight(account)) {
      throw await this.#interrupted(account)
    }
    const reason = this.#reasonToRefresh(account, rejected)
    if (reason === null) return this.#hold(account, generation, 'store')
    return this.#refreshLocked(account, reason, generation)
  }

  /** Why the stored tokens must be refreshed, or null when they can be used (or adopted) as they are. */
  #reasonToRefresh(account: StoredChatgptAccount, rejected: Secret | null): RefreshReason | null {
    if (rejected !== null && account.auth.accessToken.equals(rejected))
      return 'unauthorized_recovery'
    return refreshReasonFor(account.auth, this.#clock.now(), this.#policy)
  }

  /** Steps 4–6, holding the lock: mark, send once, write the answer (or the failure), unmark. */
  async #refreshLocked(
    account: StoredChatgptAccount,
    reason: RefreshReason,
    generation: number,
  ): Promise<HeldTokens> {
    const accountId = account.id
    const sent = account.auth.refreshToken
    this.#logger.info({ event: 'refresh.start', accountId, reason }, 'refresh.start')
    const marked = await this.#store.update(
      accountId,
      (current) => markInFlight(current, sent, this.#clock.now()).account,
    )
    const claimed = refreshInFlight(marked) && holdsRefreshToken(marked, sent)
    if (!claimed) {
      // The record changed although this process holds the lock (the lock was broken): send nothing.
      this.#logger.warn({ event: 'refresh.skipped', accountId, reason }, 'refresh.skipped')
      throw transientFailure(accountId, undefined)
    }
    let tokens: RefreshedTokens
    try {
      tokens = await this.#refresh(sent, reason)
    } catch (error) {
      throw await this.#failed(account, reason, error)
    }
    const now = this.#clock.now()
    const saved = await this.#store.update(accountId, (current) =>
      withRefreshedTokens(current, sent, tokens, now),
    )
    this.#logger.info({ event: 'refresh.ok', accountId, reason }, 'refresh.ok')
    return this.#hold(chatgptOnly(saved), generation, 'refresh')
  }

  /** Records a failed refresh in the store and answers the error for the caller. */
  async #failed(
    account: StoredChatgptAccount,
    reason: RefreshReason,
    error: unknown,
  ): Promise<BrokerError> {
    const accountId = account.id
    const sent = account.auth.refreshToken
    const code = permanentRefreshCode(error)
    const errorCode = isBrokerError(error) ? error.code : 'unknown'
    const permanent = code !== null
    this.#logger.warn(
      { event: 'refresh.failed', accountId, reason, code: errorCode, permanent },
      'refresh.failed',
    )
    if (code === null && !isAmbiguousRefreshFailure(error)) {
      await this.#record(accountId, (current) => clearInFlight(current, sent))
      return transientFailure(accountId, error)
    }
    // Sent, and the answer lost (RT-05): the issuer may have rotated, so the token is treated as spent, exactly
    // as after a crash with the request out (no process presents it again; the account asks for a sign-in).
    const reasonCode = code ?? INTERRUPTED_REFRESH_REASON
    this.#held.delete(accountId)
    const recorded = await this.#record(accountId, (current) => {
      const result = withNeedsLogin(current, sent, reasonCode)
      return result.marked ? result.account : clearInFlight(current, sent)
    })
    // Unknown after a failed write: the in-flight mark then stays, and the next holder treats the token as spent.
    const marked = recorded === null || holdsRefreshToken(recorded, sent)
    if (!marked) {
      // Another process rotated while this one's request was out (the lock was broken): its tokens stand.
      return transientFailure(accountId, error)
    }
    return needsLogin(accountId, 'needs_login', reasonCode, error)
  }

  /** A previous lock holder died after marking its refresh in flight: the stored refresh token may be spent. */
  async #interrupted(account: StoredChatgptAccount): Promise<BrokerError> {
    const accountId = account.id
    const sent = account.auth.refreshToken
    this.#logger.warn({ event: 'refresh.interrupted', accountId }, 'refresh.interrupted')
    this.#held.delete(accountId)
    await this.#record(accountId, (current) =>
      refreshInFlight(current)
        ? withNeedsLogin(current, sent, INTERRUPTED_REFRESH_REASON).account
        : current,
    )
    return new BrokerError(
      'ERR_NEEDS_LOGIN',
      `Account ${accountId} needs to sign in again: a refresh was interrupted after it may have been sent, so ` +
        'the stored refresh token may already be spent and presenting it again could sign the account out everywhere.',
      { hint: LOGIN_HINT },
    )
  }

  /** A store write on a failure path: its own failure is logged, never hides the refresh error. */
  async #record(
    accountId: string,
    change: (current: StoredAccount) => StoredAccount,
  ): Promise<StoredAccount | null> {
    try {
      return await this.#store.update(accountId, change)
    } catch (error) {
      const code = isBrokerError(error) ? error.code : 'unknown'
      this.#logger.error(
        { event: 'refresh.record_failed', accountId, code },
        'refresh.record_failed',
      )
      return null
    }
  }

  /**
   * Keeps the stored tokens in memory (unless `forget` came in between) and answers them; `source` says whether
   * they were read from the store (adopted when they replace other tokens) or just obtained by this process.
   */
  #hold(
    account: StoredChatgptAccount,
    generation: number,
    source: 'store' | 'refresh',
  ): HeldTokens {
    const { auth } = account
    const previous = this.#held.get(account.id)
    const chatgptAccountId =
      previous?.accessToken.equals(auth.accessToken) === true
        ? previous.chatgptAccountId
        : chatgptAccountIdOf(account)
    const tokens: HeldTokens = {
      accessToken: auth.accessToken,
      chatgptAccountId,
      expiresAt: auth.expiresAt,
      lastRefresh: auth.lastRefresh,
    }
    if (source === 'store' && previous !== undefined && previous.accessToken !== auth.accessToken) {
      if (!previous.accessToken.equals(auth.accessToken)) {
        this.#logger.info({ event: 'refresh.adopted', accountId: account.id }, 'refresh.adopted')
      }
    }
    if (this.#generationOf(account.id) === generation) this.#held.set(account.id, tokens)
    return tokens
  }

  #generationOf(accountId: string): number {
    return this.#generation.get(accountId) ?? 0
  }
}

function ignore(): void {
  // deliberately empty
}

/** True once the lock task has started or the lock wait has ended. */
function lockWaitOver(wait: LockWait): boolean {
  return wait.entered || wait.done
}

/** A promise that never settles (a race entrant that has given up). */
function forever(): Promise<never> {
  return new Promise<never>(ignore)
}

function grantOf(tokens: HeldTokens): ChatgptAccessToken {
  return { accessToken: tokens.accessToken, chatgptAccountId: tokens.chatgptAccountId }
}

/** The account as stored, if it exists and may be used; `ERR_NOT_FOUND` or `ERR_NEEDS_LOGIN` otherwise. */
function usable(accountId: string, account: StoredAccount | null): StoredAccount {
  if (account === null) {
    throw new BrokerError('ERR_NOT_FOUND', `There is no account ${accountId}.`, {
      hint: 'List the accounts with `codex-broker accounts`.',
    })
  }
  if (account.status !== 'active') throw needsLogin(accountId, account.status, account.statusReason)
  return account
}

function chatgptOnly(account: StoredAccount): StoredChatgptAccount {
  if (!isChatgptAccount(account)) {
    throw new BrokerError(
      'ERR_INVALID_REQUEST',
      `Account ${account.id} is an API-key account; it has no ChatGPT access token.`,
      { hint: 'Use getCredential(), which answers the API key for such accounts.' },
    )
  }
  return account
}

function chatgptAccountIdOf(account: StoredChatgptAccount): string {
  try {
    return parseAccessTokenClaims(account.auth.accessToken).chatgptAccountId ?? account.id
  } catch {
    return account.id
  }
}
