/**
 * Polling `GET /status` while a device sign-in is pending, with bounded backoff: the first wait is the poll
 * interval, each next one 1.5 times the previous up to the maximum, and no wait runs past the code's expiry. The
 * poll settles once the broker says `logged_in` or `logged_out`, or when the code has expired (after one last
 * poll). A failed poll (network, 5xx) is retried on the same schedule. Stopping clears the timer and aborts the
 * request in flight.
 */
import type { StatusAnswer } from './api-responses.js'
import type { CodexAccount, CodexAuthErrorInfo } from './types.js'

/** The default first wait between polls, in milliseconds. */
export const DEFAULT_POLL_INTERVAL_MS = 2000
/** The default longest wait between polls, in milliseconds. */
export const DEFAULT_MAX_POLL_INTERVAL_MS = 10_000
/** The shortest wait allowed, whatever the options say. */
export const MIN_POLL_INTERVAL_MS = 250
/** The growth factor of the wait. */
export const POLL_BACKOFF_FACTOR = 1.5

/** How a pending sign-in ended. */
export type PollOutcome =
  | { readonly state: 'logged_in'; readonly account: CodexAccount | null }
  | { readonly state: 'logged_out'; readonly error: CodexAuthErrorInfo | null }

/**
 * What {@link pollLoginStatus} needs.
 * @example
 * const options: LoginPollOptions = { getStatus, expiresAt, intervalMs: 2000, maxIntervalMs: 10000, onSettled }
 */
export interface LoginPollOptions {
  readonly getStatus: (signal: AbortSignal) => Promise<StatusAnswer>
  /** When the code expires, in unix milliseconds. */
  readonly expiresAt: number
  readonly intervalMs: number
  readonly maxIntervalMs: number
  readonly onSettled: (outcome: PollOutcome) => void
  readonly now?: () => number
}

/** The error reported when the code expired before the sign-in finished. */
export const LOGIN_EXPIRED: CodexAuthErrorInfo = Object.freeze({
  code: 'login_expired',
  message: 'The sign-in code expired before the sign-in finished. Start again.',
})

/**
 * The first wait and the cap, sanitised: at least {@link MIN_POLL_INTERVAL_MS}, and the cap never below the first.
 * @example
 * pollBounds(0, 100) // { intervalMs: 250, maxIntervalMs: 250 }
 */
export function pollBounds(
  intervalMs: number,
  maxIntervalMs: number,
): { intervalMs: number; maxIntervalMs: number } {
  const first = Number.isFinite(intervalMs)
    ? Math.max(MIN_POLL_INTERVAL_MS, intervalMs)
    : DEFAULT_POLL_INTERVAL_MS
  const cap = Number.isFinite(maxIntervalMs)
    ? Math.max(first, maxIntervalMs)
    : Math.max(first, DEFAULT_MAX_POLL_INTERVAL_MS)
  return { intervalMs: first, maxIntervalMs: cap }
}

/**
 * The wait after `previousMs`: × {@link POLL_BACKOFF_FACTOR}, capped at `maxMs`.
 * @example
 * nextPollDelay(2000, 10000) // 3000
 * nextPollDelay(8000, 10000) // 10000
 */
export function nextPollDelay(previousMs: number, maxMs: number): number {
  return Math.min(Math.round(previousMs * POLL_BACKOFF_FACTOR), maxMs)
}

/**
 * Starts polling; returns the function that stops it. `onSettled` is called at most once, and never after stop.
 * @example
 * const stop = pollLoginStatus({
 *   getStatus: (signal) => api.status(signal),
 *   expiresAt: answer.expiresAt,
 *   intervalMs: 2000,
 *   maxIntervalMs: 10000,
 *   onSettled: (outcome) => setState(outcome),
 * })
 */
export function pollLoginStatus(options: LoginPollOptions): () => void {
  const now = options.now ?? Date.now
  const { intervalMs, maxIntervalMs } = pollBounds(options.intervalMs, options.maxIntervalMs)
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let controller: AbortController | undefined

  const settle = (outcome: PollOutcome): void => {
    stopped = true
    options.onSettled(outcome)
  }

  const schedule = (delay: number): void => {
    const untilExpiry = Math.max(0, options.expiresAt - now())
    timer = setTimeout(() => void tick(delay), Math.min(delay, untilExpiry))
  }

  const tick = async (delay: number): Promise<void> => {
    timer = undefined
    const current = new AbortController()
    controller = current
    let answer: StatusAnswer | null
    try {
      answer = await options.getStatus(current.signal)
    } catch {
      answer = null
    }
    controller = undefined
    if (stopped) return
    if (answer?.state === 'logged_in') settle({ state: 'logged_in', account: answer.account })
    else if (answer?.state === 'logged_out') settle({ state: 'logged_out', error: answer.error })
    else if (now() >= options.expiresAt) settle({ state: 'logged_out', error: LOGIN_EXPIRED })
    else schedule(nextPollDelay(delay, maxIntervalMs))
  }

  schedule(intervalMs)
  return () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    controller?.abort()
  }
}
