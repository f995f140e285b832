/**
 * `POST /login/start`: starts a device-code sign-in for the session (rate limited per session and overall) and
 * answers where to go and what to type — `{loginUrl, userCode, expiresAt}` — or `{errorCode:
 * "DEVICE_AUTH_NOT_ENABLED", message}` when the issuer has device sign-in switched off for the account. The device
 * authorization id stays in the server-side session; the browser never sees it. A new start replaces a pending one.
 */
import { DEVICE_AUTH_NOT_ENABLED_ADVICE } from '../../oauth/index.js'
import { isBrokerError } from '../../lib/index.js'
import { startDeviceSignIn } from '../device-sign-in.js'
import { readJsonBody } from '../json-body.js'
import { jsonAnswer } from '../web-answer.js'
import type { Route } from '../route-context.js'
import { requireLiveSession, tooManyRequests } from './route-guards.js'
import { WebRefusal } from '../web-error.js'

/** The route. */
export const loginStartRoute: Route = async (request, { settings, gate }) => {
  await readJsonBody(request, settings.maxBodyBytes)
  const { key, session } = await requireLiveSession(request, gate)
  if (settings.issuer === null) {
    throw new WebRefusal(
      409,
      'sign_in_not_needed',
      'This app answers with its own API key; there is nothing to sign in to.',
    )
  }
  if (session.account !== null) {
    throw new WebRefusal(409, 'already_logged_in', 'This session is already signed in.')
  }
  const limited = await settings.rateLimits.consume('loginStart', key)
  if (limited !== null) throw tooManyRequests(limited.retryAfterSeconds)
  try {
    const login = await startDeviceSignIn(settings.issuer, settings.clock.now())
    await gate.save(key, { ...session, login, loginFailure: null })
    settings.logger.info({ event: 'web.login.started' }, 'device sign-in started')
    return jsonAnswer({
      loginUrl: login.verificationUrl,
      userCode: login.userCode,
      expiresAt: login.expiresAt,
    })
  } catch (error) {
    if (!isBrokerError(error, 'ERR_DEVICE_AUTH_NOT_ENABLED')) throw error
    return jsonAnswer({
      errorCode: 'DEVICE_AUTH_NOT_ENABLED',
      message: `Device code sign-in is not enabled for this account. ${DEVICE_AUTH_NOT_ENABLED_ADVICE}`,
    })
  }
}
