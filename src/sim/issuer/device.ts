/**
 * The device-code sign-in of PROTOCOL.md §3, which is OpenAI's own protocol, not RFC 8628. `usercode` starts an
 * authorization with a server-generated PKCE pair; `token` is polled until a person approves the code on
 * `/codex/device`, then hands out the authorization code together with that pair, exactly once.
 *
 * Status codes follow what the client can tell apart: 403 (and 404) mean "still pending", anything else non-2xx
 * is fatal. So pending is 403 `deviceauth_authorization_pending`, an unknown id is 404 (as the real issuer
 * answers), and an expired or already-redeemed authorization is 410, which stops the client polling at once.
 */
import { readJsonObject, type SimRoute } from '../http.js'
import { CODEX_CLIENT_ID } from '../state.js'
import { apiError } from './errors.js'
import { createPkcePair } from './pkce.js'
import { issuerRoute, json } from './respond.js'

/** `POST /api/accounts/deviceauth/usercode` and `POST /api/accounts/deviceauth/token`. */
export function deviceRoutes(): SimRoute[] {
  return [
    issuerRoute('POST', '/api/accounts/deviceauth/usercode', async (ctx) => {
      const body = await readJsonObject(ctx)
      if (body.client_id !== CODEX_CLIENT_ID) {
        throw apiError(400, 'invalid_client', 'client_id is missing or not registered')
      }
      // Device-code sign-in is a per-account ChatGPT setting (Settings → Security), off by default for many
      // accounts; the real issuer then answers 404. The simulator cannot know who will sign in yet, so it
      // answers 404 when it has accounts and none of them has the setting on.
      const accounts = [...ctx.state.accounts.values()]
      if (accounts.length > 0 && !accounts.some((account) => account.deviceAuthEnabled)) {
        throw apiError(
          404,
          'deviceauth_disabled',
          'Device code sign-in is not enabled. Enable it in ChatGPT Settings → Security.',
        )
      }
      const { codeVerifier, codeChallenge } = createPkcePair()
      const record = ctx.state.createDeviceAuth(codeVerifier, codeChallenge)
      return json(200, {
        device_auth_id: record.deviceAuthId,
        user_code: record.userCode,
        interval: String(ctx.state.config.devicePollIntervalSeconds),
      })
    }),
    issuerRoute('POST', '/api/accounts/deviceauth/token', async (ctx) => {
      const body = await readJsonObject(ctx)
      const { device_auth_id: deviceAuthId, user_code: userCode } = body
      if (typeof deviceAuthId !== 'string' || typeof userCode !== 'string') {
        throw apiError(400, 'invalid_request', 'device_auth_id and user_code are required')
      }
      const record = ctx.state.deviceAuths.get(deviceAuthId)
      if (record?.userCode !== userCode) {
        throw apiError(404, 'deviceauth_not_found', 'Unknown device authorization')
      }
      if (record.redeemed) {
        throw apiError(
          410,
          'deviceauth_already_redeemed',
          'This device authorization was already used',
        )
      }
      if (record.expiresAt <= ctx.state.now()) {
        throw apiError(
          410,
          'expired_token',
          'The device code has expired. Start the sign-in again.',
        )
      }
      if (record.authorizationCode === null) {
        throw apiError(
          403,
          'deviceauth_authorization_pending',
          'The user has not approved this device code yet',
        )
      }
      record.redeemed = true
      return json(200, {
        authorization_code: record.authorizationCode,
        code_challenge: record.codeChallenge,
        code_verifier: record.codeVerifier,
      })
    }),
  ]
}
