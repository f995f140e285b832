/**
 * Waiting for a promise that cannot itself be cancelled (a pending read, a shared in-flight refresh) while letting
 * one caller stop waiting: the caller's promise rejects at the abort, the underlying work goes on for the others.
 */
import { abortReason } from './clock.js'

/**
 * Settles like `promise`, or rejects with `onAbort()` (default: the signal's reason) as soon as `signal` aborts.
 * A non-Error rejection of `promise` is wrapped in an Error.
 * @example
 * const line = await untilAborted(readLine(), signal, () => new BrokerError('ERR_LOGIN_CANCELLED', 'Cancelled.'))
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => Error = () => abortReason(signal ?? AbortSignal.abort()),
): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(onAbort())
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      reject(onAbort())
    }
    signal.addEventListener('abort', abort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort)
        reject(error instanceof Error ? error : new Error(String(error), { cause: error }))
      },
    )
  })
}
