/**
 * The public types of the browser client: the account the broker reports, the four states of the sign-in state
 * machine (`checking → logged_out → pending → logged_in`), the options of {@link useCodexAuth} and what it returns.
 * Types only; no code.
 */
import type { FetchLike } from './api-client.js'
import type { HintStorage } from './auth-hint.js'

/**
 * The signed-in ChatGPT account as the broker describes it. Never a credential: the tokens stay on the server.
 * @example
 * const account: CodexAccount = { email: 'you@example.com', plan: 'plus' }
 */
export interface CodexAccount {
  readonly email: string | null
  readonly plan: string | null
}

/**
 * Why the state machine went (back) to `logged_out`: a code to `switch` on and a message for a person.
 * @example
 * if (state.status === 'logged_out' && state.error?.code === 'login_expired') showStartAgain()
 */
export interface CodexAuthErrorInfo {
  readonly code: string
  readonly message: string
}

/**
 * The state of the sign-in state machine. It only ever changes on an answer from the broker (`/session`,
 * `/login/start`, `/status`, `/logout`, a 401 from `/run/stream`) or on the local sign-in deadline; never on a
 * message from another window.
 * @example
 * switch (state.status) {
 *   case 'pending':
 *     return `Enter ${state.userCode}`
 *   case 'logged_in':
 *     return `Signed in as ${state.account?.email ?? 'you'}`
 * }
 */
export type CodexAuthState =
  | { readonly status: 'checking' }
  | { readonly status: 'logged_out'; readonly error: CodexAuthErrorInfo | null }
  | {
      readonly status: 'pending'
      /** The code the user enters at the sign-in page. */
      readonly userCode: string
      /** The validated sign-in address (on an allowed origin). */
      readonly loginUrl: string
      /** When the code expires, in unix milliseconds. */
      readonly expiresAt: number
      /** The sign-in window could not be opened (or was closed early): show a link to `loginUrl` instead. */
      readonly popupBlocked: boolean
    }
  | { readonly status: 'logged_in'; readonly account: CodexAccount | null }

/**
 * Options of {@link useCodexAuth} and `<CodexAuth>`. They are read at each call, so changing them between renders
 * takes effect on the next request; the session check runs once, on mount.
 * @example
 * const auth = useCodexAuth({ baseUrl: '/api/codex', loginOrigins: ['https://auth.openai.com'] })
 */
export interface CodexAuthOptions {
  /** Where the broker's web handler is mounted. Default `'/api/codex'`. */
  readonly baseUrl?: string
  /** `credentials` of every request. Default `'same-origin'`; use `'include'` for a broker on another origin. */
  readonly credentials?: RequestCredentials
  /** The `fetch` to use. Default `globalThis.fetch`, looked up at each call. */
  readonly fetch?: FetchLike
  /**
   * Where the `{loggedIn, savedAt}` hint is kept. Default `window.localStorage` when available; `null` keeps
   * nothing.
   */
  readonly storage?: HintStorage | null
  /**
   * The exact origins the sign-in window may be sent to. Default `['https://auth.openai.com']`. Each must be
   * `https:`, or `http:` on a loopback host (`127.0.0.1`, `localhost`, `[::1]`) for a local simulator.
   */
  readonly loginOrigins?: readonly string[]
  /** The first delay between `/status` polls while pending. Default 2000 ms (at least 250). */
  readonly pollIntervalMs?: number
  /** The longest delay between polls; each delay is the previous × 1.5 up to this. Default 10000 ms. */
  readonly maxPollIntervalMs?: number
}

/**
 * Options of one {@link UseCodexAuthResult.run} call.
 * @example
 * await auth.run('Hello', { model: 'gpt-5', signal: controller.signal, onText: (delta) => append(delta) })
 */
export interface RunOptions {
  /** The model to ask for; the broker picks its default when absent. */
  readonly model?: string
  /** Aborts the request and the stream; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Called with each text delta as it arrives. */
  readonly onText?: (delta: string) => void
}

/**
 * What a finished run produced: the whole text and the usage object the broker reported (or `null`).
 * @example
 * const { text, usage } = await auth.run('Hello')
 */
export interface RunResult {
  readonly text: string
  readonly usage: Readonly<Record<string, unknown>> | null
}

/**
 * Options of {@link UseCodexAuthResult.signOut}.
 * @example
 * await auth.signOut({ everywhere: true })
 */
export interface SignOutOptions {
  /** Also revoke the sign-in on the server (every session of this account), not only this session. */
  readonly everywhere?: boolean
}

/**
 * What {@link useCodexAuth} returns.
 * @example
 * const { state, signIn, signOut, run } = useCodexAuth()
 */
export interface UseCodexAuthResult {
  /** The state machine's current state. */
  readonly state: CodexAuthState
  /** A request started by `signIn` or `signOut` is in flight. */
  readonly busy: boolean
  /** `loggedIn` as saved by an earlier visit (`null` if none): an optimistic hint while `checking`, nothing more. */
  readonly hint: boolean | null
  /**
   * Starts a device-code sign-in. Call it directly from a click handler: it opens the sign-in window
   * synchronously (popup blockers allow only that), then asks the broker for a code.
   */
  readonly signIn: () => void
  /** Signs out on the server; rejects with a {@link CodexClientError} if the broker could not be reached. */
  readonly signOut: (options?: SignOutOptions) => Promise<void>
  /** Runs a prompt and streams the answer; rejects with a {@link CodexClientError} carrying `code`. */
  readonly run: (prompt: string, options?: RunOptions) => Promise<RunResult>
  /** Asks the broker again (`POST /session`) and moves the state to what it says. Never rejects. */
  readonly refresh: () => Promise<void>
}
