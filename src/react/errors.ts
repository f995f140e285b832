/**
 * The one error class of the browser client. Every failure the hook reports (a non-2xx answer from the broker, an
 * `error` line in a run stream, a rejected sign-in address, a network failure, an answer of the wrong shape) is a
 * `CodexClientError` with a string `code` a caller can `switch` on and the HTTP status when there was one. Codes
 * the broker sends (`not_logged_in`, `run_in_progress`, `rate_limited`, …) pass through unchanged; the client adds
 * the few of {@link CLIENT_ERROR_CODES}. An aborted call rejects with the signal's reason instead, as `fetch` does.
 */

/** The codes the client itself produces (the broker's own codes pass through as they are). */
export const CLIENT_ERROR_CODES = [
  'network_error',
  'invalid_response',
  'invalid_login_url',
  'login_expired',
  'stream_incomplete',
] as const

/** A code the client itself produces. */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number]

/**
 * A failure of a call to the broker, with a machine-readable `code` and the HTTP `status` when there was one.
 * @example
 * try {
 *   await auth.run('Hello')
 * } catch (error) {
 *   if (error instanceof CodexClientError && error.code === 'rate_limited') showRetryLater()
 * }
 */
export class CodexClientError extends Error {
  override readonly name = 'CodexClientError'
  /** The broker's error code (`not_logged_in`, `rate_limited`, …) or one of {@link CLIENT_ERROR_CODES}. */
  readonly code: string
  /** The HTTP status of the answer that carried the error, if any. */
  readonly status: number | undefined

  constructor(code: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.status = options.status
  }
}

/**
 * Whether `error` is the rejection of an aborted call (a `DOMException` or `Error` named `AbortError`).
 * @example
 * auth.run(prompt).catch((error: unknown) => {
 *   if (!isAbortError(error)) showError(error)
 * })
 */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError'
}
