/**
 * The sign-in state machine behind `useCodexAuth`, in plain TypeScript so React only subscribes to it:
 * `checking → logged_out → pending(userCode) → logged_in`, and back to `logged_out` on sign-out, expiry, a 401 or
 * an error. Its state only ever comes from the broker's answers (`/session`, `/login/start`, `/status`,
 * `/logout`, `/run/stream`); it never listens to `message` events, so no window, whatever its origin, can sign the
 * user in or out by posting a message (SECURITY.md PU-02, PU-03, PU-05). `start()` checks the session, `stop()`
 * aborts everything in flight and stops polling; `start()` may be called again after `stop()`.
 */
import { createApiClient, DEFAULT_BASE_URL, type ApiClient } from './api-client.js'
import { defaultHintStorage, readAuthHint, writeAuthHint, type HintStorage } from './auth-hint.js'
import { CodexClientError } from './errors.js'
import {
  DEFAULT_MAX_POLL_INTERVAL_MS,
  DEFAULT_POLL_INTERVAL_MS,
  pollLoginStatus,
  type PollOutcome,
} from './login-poller.js'
import { DEFAULT_LOGIN_ORIGINS, validateLoginUrl } from './login-url.js'
import { readRunStream } from './run-stream.js'
import { closeSignInPopup, navigateSignInPopup, openSignInPopup } from './sign-in-popup.js'
import type {
  CodexAccount,
  CodexAuthErrorInfo,
  CodexAuthOptions,
  CodexAuthState,
  RunOptions,
  RunResult,
  SignOutOptions,
} from './types.js'

/**
 * What React renders from: the state, whether a sign-in or sign-out request is in flight, and the saved hint.
 * Replaced (never mutated) on every change.
 */
export interface AuthSnapshot {
  readonly state: CodexAuthState
  readonly busy: boolean
  readonly hint: boolean | null
}

/** The error set when the broker's sign-in address is not on the allowed list. */
export const INVALID_LOGIN_URL: CodexAuthErrorInfo = Object.freeze({
  code: 'invalid_login_url',
  message: 'The sign-in address is not on the allowed list, so it was not opened.',
})

function toErrorInfo(error: unknown): CodexAuthErrorInfo {
  if (error instanceof CodexClientError) return { code: error.code, message: error.message }
  return { code: 'network_error', message: 'The broker could not be reached.' }
}

function loggedOut(error: CodexAuthErrorInfo | null = null): CodexAuthState {
  return { status: 'logged_out', error }
}

function loggedIn(account: CodexAccount | null): CodexAuthState {
  return { status: 'logged_in', account }
}

/**
 * The state machine. Methods are bound, so they can be handed to event handlers as they are.
 * @example
 * const machine = new CodexAuthMachine({ baseUrl: '/api/codex' })
 * const unsubscribe = machine.subscribe(() => render(machine.getSnapshot()))
 * machine.start()
 * button.onclick = machine.signIn
 */
export class CodexAuthMachine {
  #options: CodexAuthOptions
  #snapshot: AuthSnapshot
  readonly #listeners = new Set<() => void>()
  readonly #controllers = new Set<AbortController>()
  #stopPolling: (() => void) | null = null
  #popup: Window | null = null
  #starting = false

  constructor(options: CodexAuthOptions = {}) {
    this.#options = options
    this.#snapshot = {
      state: { status: 'checking' },
      busy: false,
      hint: readAuthHint(this.#storage()),
    }
  }

  /** Replaces the options; they are read at each call. */
  setOptions(options: CodexAuthOptions): void {
    this.#options = options
  }

  /** Registers a listener called after each change; returns the function that removes it. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** The current snapshot (the same object until something changes). */
  readonly getSnapshot = (): AuthSnapshot => this.#snapshot

  /** Checks the session with the broker (`POST /session`). */
  readonly start = (): void => {
    void this.refresh()
  }

  /** Aborts every request in flight and stops polling. The sign-in window, if any, is left to the user. */
  readonly stop = (): void => {
    for (const controller of this.#controllers) controller.abort()
    this.#controllers.clear()
    this.#stopPolling?.()
    this.#stopPolling = null
  }

  /** @see {@link UseCodexAuthResult.refresh} */
  readonly refresh = async (): Promise<void> => {
    const controller = this.#track()
    try {
      const session = await this.#api().session(controller.signal)
      if (session.loggedIn) this.#finishLogin(loggedIn(session.account))
      else if (this.#snapshot.state.status !== 'pending') this.#setState(loggedOut(), false)
    } catch (error) {
      if (controller.signal.aborted) return
      if (this.#snapshot.state.status === 'checking') this.#setState(loggedOut(toErrorInfo(error)))
    } finally {
      this.#untrack(controller)
    }
  }

  /** @see {@link UseCodexAuthResult.signIn} */
  readonly signIn = (): void => {
    const { status } = this.#snapshot.state
    if (this.#starting || status === 'pending' || status === 'logged_in') return
    // Synchronously, inside the click: anything after an await is no longer a user gesture.
    const popup = openSignInPopup()
    this.#popup = popup
    this.#starting = true
    this.#update({
      busy: true,
      ...(status === 'logged_out' ? { state: loggedOut() } : {}),
    })
    void this.#startLogin(popup)
  }

  /** @see {@link UseCodexAuthResult.signOut} */
  readonly signOut = async (options: SignOutOptions = {}): Promise<void> => {
    const wasPending = this.#snapshot.state.status === 'pending'
    this.#haltLogin()
    const controller = this.#track()
    this.#update({ busy: true })
    try {
      const body = options.everywhere === undefined ? {} : { everywhere: options.everywhere }
      await this.#api().logout(body, controller.signal)
      this.#setState(loggedOut(), false)
    } catch (error) {
      if (wasPending && !controller.signal.aborted) this.#setState(loggedOut(toErrorInfo(error)))
      throw error
    } finally {
      this.#untrack(controller)
      this.#update({ busy: false })
    }
  }

  /** @see {@link UseCodexAuthResult.run} */
  readonly run = async (prompt: string, options: RunOptions = {}): Promise<RunResult> => {
    const controller = this.#track()
    const outer = options.signal
    const forward = (): void => {
      controller.abort(outer?.reason)
    }
    if (outer?.aborted === true) forward()
    else outer?.addEventListener('abort', forward, { once: true })
    try {
      const body = options.model === undefined ? { prompt } : { prompt, model: options.model }
      const response = await this.#api().runStream(body, controller.signal)
      return await readRunStream(response, options.onText, controller.signal)
    } catch (error) {
      if (error instanceof CodexClientError && error.status === 401) {
        this.#haltLogin()
        this.#setState(loggedOut(toErrorInfo(error)), false)
      }
      throw error
    } finally {
      outer?.removeEventListener('abort', forward)
      this.#untrack(controller)
    }
  }

  async #startLogin(popup: Window | null): Promise<void> {
    const controller = this.#track()
    try {
      const answer = await this.#api().loginStart(controller.signal)
      if (answer.kind === 'unavailable') {
        this.#failLogin(answer.error)
        return
      }
      const loginUrl = validateLoginUrl(
        answer.loginUrl,
        this.#options.loginOrigins ?? DEFAULT_LOGIN_ORIGINS,
      )
      if (loginUrl === null) {
        this.#failLogin(INVALID_LOGIN_URL)
        return
      }
      const navigated = popup !== null && navigateSignInPopup(popup, loginUrl)
      this.#setState({
        status: 'pending',
        userCode: answer.userCode,
        loginUrl,
        expiresAt: answer.expiresAt,
        popupBlocked: !navigated,
      })
      this.#stopPolling = pollLoginStatus({
        getStatus: (signal) => this.#api().status(signal),
        expiresAt: answer.expiresAt,
        intervalMs: this.#options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
        maxIntervalMs: this.#options.maxPollIntervalMs ?? DEFAULT_MAX_POLL_INTERVAL_MS,
        onSettled: (outcome) => {
          this.#stopPolling = null
          this.#settleLogin(outcome)
        },
      })
    } catch (error) {
      closeSignInPopup(popup)
      if (this.#popup === popup) this.#popup = null
      if (!controller.signal.aborted) this.#setState(loggedOut(toErrorInfo(error)))
    } finally {
      this.#untrack(controller)
      this.#starting = false
      this.#update({ busy: false })
    }
  }

  #settleLogin(outcome: PollOutcome): void {
    if (outcome.state === 'logged_in') this.#finishLogin(loggedIn(outcome.account))
    else this.#failLogin(outcome.error)
  }

  #finishLogin(state: CodexAuthState): void {
    this.#haltLogin()
    this.#setState(state, true)
  }

  #failLogin(error: CodexAuthErrorInfo | null): void {
    this.#haltLogin()
    this.#setState(loggedOut(error), false)
  }

  /** Stops polling and closes the sign-in window. */
  #haltLogin(): void {
    this.#stopPolling?.()
    this.#stopPolling = null
    closeSignInPopup(this.#popup)
    this.#popup = null
  }

  #api(): ApiClient {
    const options = this.#options
    return createApiClient({
      baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
      credentials: options.credentials ?? 'same-origin',
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    })
  }

  #storage(): HintStorage | null {
    return this.#options.storage === undefined ? defaultHintStorage() : this.#options.storage
  }

  #track(): AbortController {
    const controller = new AbortController()
    this.#controllers.add(controller)
    return controller
  }

  #untrack(controller: AbortController): void {
    this.#controllers.delete(controller)
  }

  /** Moves to `state`; with `loggedIn` given, also saves the hint. */
  #setState(state: CodexAuthState, saveHint?: boolean): void {
    if (saveHint !== undefined) writeAuthHint(this.#storage(), saveHint, Date.now())
    this.#update({ state })
  }

  #update(change: Partial<AuthSnapshot>): void {
    const next = { ...this.#snapshot, ...change }
    if (next.state === this.#snapshot.state && next.busy === this.#snapshot.busy) return
    this.#snapshot = next
    for (const listener of this.#listeners) listener()
  }
}
