/**
 * How a failure inside an account method reaches the client: as `-32000` with a message of our own words that
 * says what to do next. Each known `BrokerError` code has its sentence; anything else is named by its code only.
 * Issuer and backend texts (even the short `error_description` the oauth layer keeps) and stack traces never
 * reach the client, and no message interpolates a token, a code or a device id.
 */
import { isBrokerError } from '../../lib/index.js'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'

/** What a client is told to call to sign an account in again. */
export const SIGN_IN_AGAIN = 'Sign in again with account/login/start.'

/**
 * A `-32000` error with `message`.
 * @example
 * throw serverError('No account is signed in. Sign in with account/login/start.')
 */
export function serverError(message: string): RpcError {
  return new RpcError(RPC_ERROR_CODES.serverError, message)
}

/**
 * The public sentence for a failure of `action` (e.g. `'The sign-in'`, `'Reading the rate limits'`).
 * @example
 * failureMessage(error, 'The sign-in') // 'The sign-in timed out before it was completed. Start it again …'
 */
export function failureMessage(error: unknown, action: string): string {
  if (error instanceof RpcError) return error.message
  if (!isBrokerError(error)) {
    return `${action} failed (internal error). Try again; if it keeps failing, check the server's log.`
  }
  switch (error.code) {
    case 'ERR_LOGIN_CANCELLED':
      return 'Sign-in cancelled.'
    case 'ERR_LOGIN_TIMEOUT':
      return 'The sign-in timed out before it was completed. Start it again with account/login/start.'
    case 'ERR_DEVICE_CODE_EXPIRED':
      return 'The device code expired before it was approved (codes last 15 minutes). Start again with account/login/start {"type": "chatgptDeviceCode"}.'
    case 'ERR_DEVICE_AUTH_NOT_ENABLED':
      return 'Device code sign-in is not enabled for this account. Enable it in ChatGPT Settings → Security, or sign in with account/login/start {"type": "chatgpt"}.'
    case 'ERR_PORT_IN_USE':
      return 'The browser sign-in needs a registered callback port (1455 or 1457 by default) and another program holds it (another Codex or codex-broker sign-in?). Close that program and try again, or use account/login/start {"type": "chatgptDeviceCode"}.'
    case 'ERR_STATE_MISMATCH':
      return `The sign-in answer did not match this sign-in. ${SIGN_IN_AGAIN}`
    case 'ERR_NEEDS_LOGIN':
    case 'ERR_REFRESH_REUSED':
    case 'ERR_REFRESH_EXPIRED':
    case 'ERR_REFRESH_REVOKED':
    case 'ERR_REFRESH_FAILED':
      return `This account's sign-in is no longer valid. ${SIGN_IN_AGAIN}`
    case 'ERR_REFRESH_TRANSIENT':
    case 'ERR_UPSTREAM_UNAVAILABLE':
      return `${action} failed: OpenAI could not be reached. Check the network and try again in a moment.`
    case 'ERR_UPSTREAM_RATE_LIMITED':
    case 'ERR_RATE_LIMITED':
      return `${action} failed: OpenAI is rate-limiting this account. Try again later.`
    case 'ERR_UPSTREAM_CHALLENGE':
      return `${action} failed: OpenAI answered with a bot challenge. Try again later.`
    case 'ERR_UPSTREAM_UNAUTHORIZED':
      return `${action} failed: OpenAI refused this account's token. ${SIGN_IN_AGAIN}`
    case 'ERR_LOCK_TIMEOUT':
      return `${action} failed: another process is refreshing this account's tokens. Try again in a moment.`
    default:
      return `${action} failed (${error.code}). Try again; if it keeps failing, check the server's log.`
  }
}

/**
 * A thrown value as the `-32000` error of `action` (an `RpcError` passes through unchanged).
 * @example
 * try { … } catch (error) { throw asServerError(error, 'Reading the rate limits') }
 */
export function asServerError(error: unknown, action: string): RpcError {
  if (error instanceof RpcError) return error
  return serverError(failureMessage(error, action))
}
