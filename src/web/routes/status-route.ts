/**
 * `GET /status`: `{state: "logged_out" | "pending" | "logged_in", …}`. While a device sign-in is pending, the
 * server polls the issuer (at most once per the issuer's interval — see device-sign-in.ts) and, on approval,
 * stores the tokens under a fresh credential id and moves the session to a NEW session id (the pre-login id is
 * destroyed, not promoted: BR-07), answering with the new cookie. Overlapping polls of one session in this process
 * share one issuer call. The answer never carries a token, the device authorization id or the credential id.
 */
import { randomBytes } from 'node:crypto'
import { accountFromSignIn } from '../../store/index.js'
import { pollDeviceSignIn } from '../device-sign-in.js'
import { jsonAnswer } from '../web-answer.js'
import type { Route, RouteContext, SharedAnswer } from '../route-context.js'
import type { WebSession } from '../web-session.js'
import { publicAccount } from './session-route.js'
import { liveSessionOf } from './route-guards.js'

/** The route. */
export const statusRoute: Route = async (request, context) => {
  const { gate } = context
  const loaded = await gate.load(request)
  if (loaded.kind === 'none') return jsonAnswer({ state: 'logged_out' })
  const { key, session } = liveSessionOf(loaded, gate)
  let flight = context.polls.get(key)
  if (flight === undefined) {
    flight = statusOf(key, session, context).finally(() => context.polls.delete(key))
    context.polls.set(key, flight)
  }
  const answer = await flight
  return jsonAnswer(answer.body, 200, answer.headers)
}

async function statusOf(
  key: string,
  session: WebSession,
  { settings, gate }: RouteContext,
): Promise<SharedAnswer> {
  const apiKeyMode = settings.tokens === null
  if (apiKeyMode || session.account !== null) {
    return { body: { state: 'logged_in', account: publicAccount(session) }, headers: {} }
  }
  const { login } = session
  if (login === null || settings.issuer === null) {
    const body =
      session.loginFailure === null
        ? { state: 'logged_out' }
        : { state: 'logged_out', error: session.loginFailure }
    return { body, headers: {} }
  }
  const now = settings.clock.now()
  const step = await pollDeviceSignIn(settings.issuer, login, now)
  if (step.kind === 'pending') {
    if (step.login !== login) await gate.save(key, { ...session, login: step.login })
    return {
      body: {
        state: 'pending',
        userCode: login.userCode,
        loginUrl: login.verificationUrl,
        expiresAt: login.expiresAt,
      },
      headers: {},
    }
  }
  if (step.kind === 'failed') {
    await gate.save(key, { ...session, login: null, loginFailure: step.failure })
    settings.logger.info({ event: 'web.login.failed', code: step.failure.code }, 'sign-in ended')
    return { body: { state: 'logged_out', error: step.failure }, headers: {} }
  }
  const credentialId = `web-${randomBytes(16).toString('base64url')}`
  const account = { ...accountFromSignIn(step.tokens, { now, label: null }), id: credentialId }
  await settings.credentials.put(account)
  const signedIn: WebSession = {
    createdAt: now,
    lastSeenAt: now,
    account: { credentialId, email: account.email, plan: account.plan },
    login: null,
    loginFailure: null,
  }
  const created = await gate.create(signedIn)
  await gate.destroy(key)
  settings.logger.info({ event: 'web.login.completed', plan: account.plan }, 'signed in')
  return {
    body: { state: 'logged_in', account: publicAccount(signedIn) },
    headers: { 'set-cookie': created.setCookie },
  }
}
