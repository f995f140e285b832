/**
 * The errors every credential store raises the same way, so the token manager and the CLI see one wording
 * whichever store they hold: a missing account on `update` (`ERR_NOT_FOUND`) and an account lock that could not be
 * had in time (`ERR_LOCK_TIMEOUT`).
 */
import { BrokerError } from '../lib/index.js'

/**
 * The error `update` throws for a missing account.
 *
 * @example
 * throw accountNotFound('acc-1')
 */
export function accountNotFound(id: string): BrokerError {
  return new BrokerError('ERR_NOT_FOUND', `There is no account ${id} in the credential store.`, {
    hint: 'List the accounts with: codex-broker accounts',
  })
}

/**
 * What lock messages call an account's refresh lock.
 *
 * @example
 * accountLockDescription('acc-1') // 'the refresh lock of account acc-1'
 */
export function accountLockDescription(id: string): string {
  return `the refresh lock of account ${id}`
}

/**
 * The error of a lock wait inside this process that ran out of time.
 *
 * @example
 * throw inProcessLockTimeout(accountLockDescription('acc-1'), 30_000)
 */
export function inProcessLockTimeout(description: string, timeoutMs: number): BrokerError {
  const hint = 'Another task of this process is still holding it; try again.'
  return new BrokerError(
    'ERR_LOCK_TIMEOUT',
    `Timed out after ${timeoutMs} ms waiting for ${description} (held in this process). ${hint}`,
    { hint },
  )
}
