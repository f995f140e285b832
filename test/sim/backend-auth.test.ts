/**
 * Authentication of the Codex backend routes: which bearer tokens are refused with which 401 code (missing,
 * unknown, expired, revoked), and the 403 for a `chatgpt-account-id` that is missing or names another account.
 */
import { describe, expect, it } from 'vitest'
import { postJson, useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import { codexBody, manualClock, postCodex, RATE_LIMIT_HEADERS } from './backend-support.js'

async function expectAuthError(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status)
  const body = (await response.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  expect(body.error.message).toEqual(expect.any(String))
  // Nothing about a quota leaks to a caller the backend has not authenticated.
  for (const name of RATE_LIMIT_HEADERS) expect(response.headers.get(name)).toBeNull()
}

describe('codex backend authentication', () => {
  it('answers 401 invalid_token without a bearer token', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const response = await postJson(`${sim.backendBase}/codex/responses`, codexBody('x'), {
      'chatgpt-account-id': account.accountId,
    })
    await expectAuthError(response, 401, 'invalid_token')
  })

  it('answers 401 invalid_token for a token it never issued', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const forged = { ...account, accessToken: `${account.accessToken.slice(0, -4)}AAAA` }
    await expectAuthError(await postCodex(sim, forged, codexBody('x')), 401, 'invalid_token')
  })

  it('answers 401 token_expired once the access token has outlived its lifetime', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now, config: { accessTokenTtlSeconds: 60 } })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const fresh = await postCodex(sim, account, codexBody('x'))
    expect(fresh.status).toBe(200)
    await fresh.text()
    clock.advance(61_000)
    await expectAuthError(await postCodex(sim, account, codexBody('x')), 401, 'token_expired')
  })

  it('answers 401 token_revoked after the account is signed out everywhere', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    expect(sim.control.revokeAccount({ accountId: account.accountId })).toEqual({
      revokedFamilies: 1,
    })
    await expectAuthError(await postCodex(sim, account, codexBody('x')), 401, 'token_revoked')
    // A new sign-in starts a new family that works.
    const again = await signIn(sim, { email: 'dev@example.com' })
    const response = await postCodex(sim, again, codexBody('x'))
    expect(response.status).toBe(200)
    await response.text()
  })

  it('answers 403 account_mismatch for another account id or none, a good token notwithstanding', async () => {
    const sim = await useSimulator()
    const mine = await signIn(sim, { email: 'me@example.com' })
    const theirs = await signIn(sim, { email: 'them@example.com' })
    const wrong = await postCodex(sim, mine, codexBody('x'), {
      'chatgpt-account-id': theirs.accountId,
    })
    await expectAuthError(wrong, 403, 'account_mismatch')
    const missing = await postJson(`${sim.backendBase}/codex/responses`, codexBody('x'), {
      authorization: `Bearer ${mine.accessToken}`,
    })
    await expectAuthError(missing, 403, 'account_mismatch')
    expect(sim.control.counters().responsesByAccount).toEqual({})
  })

  it('refuses an API key on the backend and an access token on the API', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const { apiKey } = sim.control.createApiKey()
    const backend = await postCodex(sim, { ...account, accessToken: apiKey }, codexBody('x'))
    await expectAuthError(backend, 401, 'invalid_token')
    const api = await postJson(`${sim.apiBase}/responses`, codexBody('x'), {
      authorization: `Bearer ${account.accessToken}`,
    })
    expect(api.status).toBe(401)
    const text = await api.text()
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_api_key' } })
    expect(text).not.toContain(account.accessToken)
  })
})
