/**
 * Routes and canned answers of the broker's web handler (the contract of DESIGN.md "The web handler and the React
 * component"), and the check every recorded call must pass: the static `X-Codex-Broker: 1` header, the expected
 * `credentials`, and a JSON body with `Content-Type: application/json` on POST.
 */
import { expect } from 'vitest'
import type { RecordedCall } from './fake-fetch.js'
import { json } from './fake-fetch.js'

export const ROUTES = {
  session: 'POST /api/codex/session',
  loginStart: 'POST /api/codex/login/start',
  status: 'GET /api/codex/status',
  run: 'POST /api/codex/run/stream',
  logout: 'POST /api/codex/logout',
} as const

export const ACCOUNT = { email: 'dev@example.com', plan: 'plus' } as const
export const USER_CODE = 'WXYZ-1234'
export const LOGIN_URL = 'https://auth.openai.com/codex/device'

/** A JWT-shaped canary: if it ever reaches storage or the DOM, something copied a server field it should not. */
export const CANARY = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ'

export const sessionOut = (): Response => json({ loggedIn: false, account: null })
export const sessionIn = (): Response => json({ loggedIn: true, account: ACCOUNT, token: CANARY })
export const loginStarted = (
  loginUrl: string = LOGIN_URL,
  expiresAt = Date.now() + 600_000,
): Response => json({ loginUrl, userCode: USER_CODE, expiresAt })
export const statusPending = (): Response =>
  json({
    state: 'pending',
    userCode: USER_CODE,
    loginUrl: LOGIN_URL,
    expiresAt: Date.now() + 600_000,
  })
export const statusIn = (): Response =>
  json({ state: 'logged_in', account: ACCOUNT, session: CANARY })
export const statusExpired = (): Response =>
  json({
    state: 'logged_out',
    error: { code: 'expired_token', message: 'The sign-in code expired.' },
  })
export const brokerError = (status: number, code: string, message = code): Response =>
  json({ error: { code, message } }, status)

/** Every call carries the static header and the credentials; every POST a JSON body. */
export function expectWellFormed(
  calls: readonly RecordedCall[],
  credentials: RequestCredentials = 'same-origin',
): void {
  for (const call of calls) {
    expect(call.headers['x-codex-broker'], `${call.route}: static header`).toBe('1')
    expect(call.credentials, `${call.route}: credentials`).toBe(credentials)
    if (call.method === 'POST') {
      expect(call.headers['content-type'], `${call.route}: content type`).toBe('application/json')
      expect(typeof call.body, `${call.route}: JSON body`).toBe('object')
    } else {
      expect(call.body, `${call.route}: no body`).toBeUndefined()
    }
  }
}
