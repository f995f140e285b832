/**
 * The sign-ins in flight on an app-server. A sign-in starts with a call (`account/login/start`), answers as soon
 * as the user has something to open (the authorize URL, or the device code and where to type it), and finishes
 * in the background: the new credentials are stored (keeping the label and history of an account signed in
 * before) and every connection hears `account/login/completed`, then `account/updated`.
 *
 * Rules:
 * - A sign-in belongs to the server, not to the connection that started it: closing that connection does not
 *   end it (its notifications are broadcast). `cancel`, the timeout (default 10 minutes) or `close` do.
 * - At most {@link MAX_CONCURRENT_SIGN_INS} at once; beyond, the start is refused with `-32000`.
 * - A browser sign-in holds a registered callback port, so a new browser sign-in replaces the one in flight (as
 *   the official CLI does): the old one ends with `success: false` and its port is free before the new one binds.
 * - A failure before the client got a `loginId` is the start call's error; after, it is the `error` of
 *   `account/login/completed`. Either way it is a public sentence (method-failure.ts), never an issuer body.
 * - No token, id token, refresh token, device id or code verifier is ever handed to a caller: the authorize URL
 *   holds only the PKCE challenge and the state, and the device prompt only the URL and the user code.
 * The pool (when there is one) sees a new account at its next read of the store (its account cache, 1 s).
 */
import { randomUUID } from 'node:crypto'
import { BrokerError, type Clock, systemClock } from '../../lib/index.js'
import {
  loginWithBrowser,
  loginWithDeviceCode,
  type IssuerConfig,
  type TokenSet,
} from '../../oauth/index.js'
import { saveSignIn, type CredentialStore, type StoredAccount } from '../../store/index.js'
import type { TokenManager } from '../../tokens/index.js'
import { accountSummary } from './account-view.js'
import { asServerError, failureMessage, serverError } from './method-failure.js'

/** How many sign-ins may be in flight at once. */
export const MAX_CONCURRENT_SIGN_INS = 4

/** How long a sign-in may take, from its start (the official CLI's 10 minutes). */
export const DEFAULT_LOGIN_TIMEOUT_MS = 10 * 60 * 1000

/** The `error` of `account/login/completed` for a sign-in ended by `account/login/cancel`. */
export const SIGN_IN_CANCELLED = 'Sign-in cancelled.'

/** Sends a notification to every connection (`RpcContext.broadcast`). */
export type Broadcast = (method: string, params: unknown) => void

/** The kinds of sign-in that run in the background. */
export type LoginKind = 'chatgpt' | 'chatgptDeviceCode'

/** What a browser sign-in answers at once. */
export interface BrowserLoginStarted {
  loginId: string
  /** Open it in a browser; holds no secret (PKCE challenge and state only). */
  authUrl: string
}

/** What a device-code sign-in answers at once. */
export interface DeviceLoginStarted {
  loginId: string
  /** Where the user types the code. */
  verificationUrl: string
  userCode: string
}

/** Options of {@link LoginSessions}. */
export interface LoginSessionsOptions {
  readonly store: CredentialStore
  readonly tokens: TokenManager
  readonly issuer: IssuerConfig
  /** Registered loopback callback ports, tried in order (default 1455, 1457). */
  readonly callbackPorts?: readonly number[]
  /** Default {@link DEFAULT_LOGIN_TIMEOUT_MS}. */
  readonly timeoutMs?: number
  /** Default {@link MAX_CONCURRENT_SIGN_INS}. */
  readonly maxConcurrent?: number
  readonly clock?: Clock
}

type EndReason = 'cancelled' | 'replaced' | 'timeout' | 'shutdown'

interface Session {
  readonly loginId: string
  readonly kind: LoginKind
  readonly controller: AbortController
  endReason: EndReason | null
  settled: Promise<void>
}

type Run<T> = (signal: AbortSignal, announce: (value: T) => void) => Promise<StoredAccount>

const END_MESSAGES: Record<EndReason, string> = {
  cancelled: SIGN_IN_CANCELLED,
  replaced: 'Sign-in cancelled: a newer browser sign-in took over the callback port.',
  timeout:
    'The sign-in timed out before it was completed. Start it again with account/login/start.',
  shutdown: 'Sign-in cancelled: the server is shutting down.',
}

/**
 * The sign-ins in flight.
 * @example
 * const sessions = new LoginSessions({ store, tokens, issuer })
 * const { loginId, authUrl } = await sessions.startBrowser(context.broadcast)
 * // … later: account/login/completed {loginId, success, error} is broadcast
 * await sessions.close()
 */
export class LoginSessions {
  readonly #options: LoginSessionsOptions
  readonly #clock: Clock
  readonly #max: number
  readonly #sessions = new Map<string, Session>()
  #closed = false

  constructor(options: LoginSessionsOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#max = options.maxConcurrent ?? MAX_CONCURRENT_SIGN_INS
  }

  /** How many sign-ins are in flight. */
  get size(): number {
    return this.#sessions.size
  }

  /**
   * Starts a browser sign-in (replacing one in flight) and resolves with the authorize URL once the callback
   * server listens. Throws `-32000` when it cannot start (port in use, too many sign-ins, shutting down).
   */
  startBrowser(broadcast: Broadcast): Promise<BrowserLoginStarted> {
    const { issuer, callbackPorts } = this.#options
    return this.#launch<{ authUrl: string }>('chatgpt', broadcast, async (signal, announce) => {
      const saved: { account?: StoredAccount } = {}
      await loginWithBrowser({
        config: issuer,
        signal,
        clock: this.#clock,
        timeoutMs: this.#timeoutMs(),
        ...(callbackPorts === undefined ? {} : { ports: callbackPorts }),
        onAuthorizeUrl: (url) => {
          announce({ authUrl: url })
        },
        persist: async (tokens) => {
          saved.account = await this.#persist(tokens)
        },
      })
      if (saved.account === undefined) {
        throw new BrokerError('ERR_INTERNAL', 'The sign-in ended without a stored account.')
      }
      return saved.account
    })
  }

  /**
   * Starts a device-code sign-in and resolves with the URL and the user code once the issuer gave them. Throws
   * `-32000` when it cannot start (device sign-in not enabled, issuer unreachable, too many sign-ins).
   */
  startDeviceCode(broadcast: Broadcast): Promise<DeviceLoginStarted> {
    return this.#launch<{ verificationUrl: string; userCode: string }>(
      'chatgptDeviceCode',
      broadcast,
      async (signal, announce) => {
        const tokens = await loginWithDeviceCode({
          config: this.#options.issuer,
          signal,
          clock: this.#clock,
          onCode: ({ verificationUrl, userCode }) => {
            announce({ verificationUrl, userCode })
          },
        })
        return this.#persist(tokens)
      },
    )
  }

  /**
   * Ends a sign-in in flight; resolves once it has ended and `account/login/completed` (success false, error
   * {@link SIGN_IN_CANCELLED}) went out. `notFound` when no sign-in has this id (unknown, or already over).
   */
  async cancel(loginId: string): Promise<'canceled' | 'notFound'> {
    const session = this.#sessions.get(loginId)
    if (session === undefined) return 'notFound'
    end(session, 'cancelled')
    await session.settled
    return 'canceled'
  }

  /** Refuses new sign-ins, cancels those in flight and waits until they have ended. */
  async close(): Promise<void> {
    this.#closed = true
    const sessions = [...this.#sessions.values()]
    for (const session of sessions) end(session, 'shutdown')
    await Promise.all(sessions.map((session) => session.settled))
  }

  async #launch<T extends object>(
    kind: LoginKind,
    broadcast: Broadcast,
    run: Run<T>,
  ): Promise<{ loginId: string } & T> {
    if (this.#closed) throw serverError('The server is shutting down; no sign-in can start now.')
    const replaced =
      kind === 'chatgpt' ? [...this.#sessions.values()].filter((s) => s.kind === 'chatgpt') : []
    if (this.#sessions.size - replaced.length >= this.#max) {
      throw serverError(
        `Too many sign-ins in progress (at most ${String(this.#max)}). Finish one, or end one with account/login/cancel, then try again.`,
      )
    }
    const session: Session = {
      loginId: randomUUID(),
      kind,
      controller: new AbortController(),
      endReason: null,
      settled: Promise.resolve(),
    }
    this.#sessions.set(session.loginId, session)
    for (const old of replaced) end(old, 'replaced')

    const progress = { announced: false }
    const start = deferred<T>()
    const timer = new AbortController()
    session.settled = (async () => {
      try {
        // The replaced browser sign-in releases the callback port before this one binds it.
        await Promise.all(replaced.map((old) => old.settled))
        this.#clock.sleep(this.#timeoutMs(), timer.signal).then(
          () => {
            end(session, 'timeout')
          },
          () => undefined,
        )
        const account = await run(session.controller.signal, (value) => {
          if (progress.announced) return
          progress.announced = true
          start.resolve(value)
        })
        this.#options.tokens.forget(account.id)
        if (!progress.announced) {
          start.reject(serverError('The sign-in ended before it could be shown. Start it again.'))
          return
        }
        broadcast('account/login/completed', {
          loginId: session.loginId,
          success: true,
          error: null,
        })
        broadcast('account/updated', { account: accountSummary(account) })
      } catch (error) {
        const message =
          session.endReason === null
            ? failureMessage(error, 'The sign-in')
            : END_MESSAGES[session.endReason]
        if (progress.announced) {
          broadcast('account/login/completed', {
            loginId: session.loginId,
            success: false,
            error: message,
          })
        } else {
          start.reject(
            session.endReason === null
              ? asServerError(error, 'Starting the sign-in')
              : serverError(message),
          )
        }
      } finally {
        timer.abort()
        this.#sessions.delete(session.loginId)
      }
    })()
    const value = await start.promise
    return { loginId: session.loginId, ...value }
  }

  #timeoutMs(): number {
    return this.#options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS
  }

  /** Stores a sign-in, keeping the label and history of an account signed in before. */
  async #persist(tokens: TokenSet): Promise<StoredAccount> {
    return saveSignIn(this.#options.store, tokens, { now: this.#clock.now() })
  }
}

function end(session: Session, reason: EndReason): void {
  session.endReason ??= reason
  session.controller.abort()
}

function deferred<T>(): {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
} {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok
    reject = fail
  })
  return { promise, resolve, reject }
}
