/**
 * The device-code sign-in (PROTOCOL.md §3) as the web handler drives it: there is no background loop holding a
 * request open, because the session may be served by another instance on its next poll. `POST /login/start` asks
 * the issuer for a user code and keeps the authorization in the session; each `GET /status` then polls the issuer
 * at most once, and only when the issuer's interval has passed since the last poll (a `slow_down` lengthens it
 * for good). An approval is exchanged for tokens at once; an expiry or a refusal ends the sign-in with a reason
 * the browser can show; an unreachable issuer only postpones the next poll.
 */
import {
  buildDeviceTokenRequest,
  DEFAULT_DEVICE_POLL_INTERVAL_SECONDS,
  exchangeAuthorizationCode,
  issuerBase,
  type IssuerConfig,
  processDeviceTokenResponse,
  requestDeviceCode,
  sendToIssuer,
  SLOW_DOWN_STEP_SECONDS,
  type TokenSet,
} from '../oauth/index.js'
import { isBrokerError, toPublicError } from '../lib/index.js'
import type { LoginFailure, PendingLogin } from './web-session.js'
import { publicCode } from './web-error.js'

/** The outcome of one status poll. */
export type DevicePollStep =
  | { readonly kind: 'pending'; readonly login: PendingLogin }
  | { readonly kind: 'signed_in'; readonly tokens: TokenSet }
  | { readonly kind: 'failed'; readonly failure: LoginFailure }

/**
 * Starts a device authorization.
 * @throws {BrokerError} `ERR_DEVICE_AUTH_NOT_ENABLED` when the issuer has it switched off, or a transport error.
 * @example
 * const login = await startDeviceSignIn(issuer, clock.now())
 */
export async function startDeviceSignIn(issuer: IssuerConfig, now: number): Promise<PendingLogin> {
  const handle = await requestDeviceCode(issuer, { clock: { now: () => now, sleep: neverSleeps } })
  const intervalMs = handle.intervalSeconds * 1000
  return {
    deviceAuthId: handle.deviceAuthId,
    userCode: handle.userCode,
    verificationUrl: handle.verificationUrl,
    expiresAt: handle.expiresAt,
    intervalMs,
    nextPollAt: now + intervalMs,
  }
}

/**
 * Polls the issuer once if the interval has passed; answers what the session should become.
 * @example
 * const step = await pollDeviceSignIn(issuer, session.login, clock.now())
 * if (step.kind === 'signed_in') await saveTokens(step.tokens)
 */
export async function pollDeviceSignIn(
  issuer: IssuerConfig,
  login: PendingLogin,
  now: number,
): Promise<DevicePollStep> {
  if (now >= login.expiresAt) return { kind: 'failed', failure: expired() }
  if (now < login.nextPollAt) return { kind: 'pending', login }
  const handle = {
    deviceAuthId: login.deviceAuthId,
    userCode: login.userCode,
    intervalSeconds: login.intervalMs / 1000,
    verificationUrl: login.verificationUrl,
    expiresAt: login.expiresAt,
  }
  try {
    const response = await sendToIssuer(
      issuer,
      buildDeviceTokenRequest(issuer, handle),
      'device code poll',
    )
    const outcome = await processDeviceTokenResponse(response)
    if (outcome.kind === 'pending') {
      return { kind: 'pending', login: { ...login, nextPollAt: now + login.intervalMs } }
    }
    if (outcome.kind === 'slow_down') {
      const intervalMs = login.intervalMs + SLOW_DOWN_STEP_SECONDS * 1000
      return { kind: 'pending', login: { ...login, intervalMs, nextPollAt: now + intervalMs } }
    }
    const tokens = await exchangeAuthorizationCode(issuer, {
      code: outcome.authorization.authorizationCode,
      redirectUri: `${issuerBase(issuer.issuer)}/deviceauth/callback`,
      codeVerifier: outcome.authorization.codeVerifier,
    })
    return { kind: 'signed_in', tokens }
  } catch (error) {
    if (isBrokerError(error, 'ERR_DEVICE_CODE_EXPIRED'))
      return { kind: 'failed', failure: expired() }
    if (isBrokerError(error, 'ERR_UPSTREAM_UNAVAILABLE')) {
      const retryMs = Math.max(login.intervalMs, DEFAULT_DEVICE_POLL_INTERVAL_SECONDS * 1000)
      return { kind: 'pending', login: { ...login, nextPollAt: now + retryMs } }
    }
    const body = toPublicError(error)
    return { kind: 'failed', failure: { code: publicCode(body.code), message: body.message } }
  }
}

function expired(): LoginFailure {
  return {
    code: 'device_code_expired',
    message: 'The sign-in code expired before it was approved. Start the sign-in again.',
  }
}

function neverSleeps(): Promise<void> {
  return Promise.resolve()
}
