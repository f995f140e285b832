/**
 * Conformance of the token exchange that turns an id token into an API key (PROTOCOL.md §2): only an id token the
 * simulator issued, unexpired and from a live family, with the exact request shape the Codex CLI sends.
 */
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { postForm, useSimulator } from '../support/sim.js'
import { decodeJwt, errorCodeOf, issuedOf, manualClock, signIn } from './issuer-support.js'

function exchangeForKey(
  sim: Simulator,
  subjectToken: string,
  overrides: Record<string, string> = {},
) {
  return postForm(`${sim.issuer}/oauth/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    client_id: CODEX_CLIENT_ID,
    requested_token: 'openai-api-key',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    ...overrides,
  })
}

async function expectRefused(response: Response, code = 'invalid_request') {
  expect(response.status).toBe(400)
  expect(errorCodeOf(await response.json())).toBe(code)
}

describe('token exchange for an API key', () => {
  it('turns an issued id token into an sk-proj key that /__sim/issued lists', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const response = await exchangeForKey(sim, tokens.id_token)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ issued_token_type: 'openai-api-key', token_type: 'Bearer' })
    expect(body.access_token).toMatch(/^sk-proj-/)
    expect(await issuedOf(sim)).toContain(body.access_token)
  })

  it('refuses an access token, a tampered id token and a made-up one as the subject', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    await expectRefused(await exchangeForKey(sim, tokens.access_token))
    const [header, , signature] = tokens.id_token.split('.')
    const payload = Buffer.from(
      JSON.stringify({ ...decodeJwt(tokens.id_token).payload, email: 'x@example.com' }),
    ).toString('base64url')
    await expectRefused(await exchangeForKey(sim, `${header ?? ''}.${payload}.${signature ?? ''}`))
    await expectRefused(await exchangeForKey(sim, 'not-a-token'))
    expect((await exchangeForKey(sim, tokens.id_token)).status).toBe(200)
  })

  it('refuses an expired id token', async () => {
    const clock = manualClock()
    const sim = await useSimulator({
      now: clock.now,
      accounts: [{ email: 'dev@example.com' }],
      config: { accessTokenTtlSeconds: 60 },
    })
    const tokens = await signIn(sim, 'dev@example.com')
    clock.advance(59_000)
    expect((await exchangeForKey(sim, tokens.id_token)).status).toBe(200)
    clock.advance(1_000)
    await expectRefused(await exchangeForKey(sim, tokens.id_token))
  })

  it('refuses an id token whose family was revoked', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const [account] = sim.control.accounts()
    sim.control.revokeAccount({ accountId: account?.accountId ?? '' })
    await expectRefused(await exchangeForKey(sim, tokens.id_token))
  })

  it.each([
    ['another requested_token', { requested_token: 'openai-session' }],
    ['another subject_token_type', { subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }],
  ])('refuses %s', async (_name, overrides) => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    await expectRefused(await exchangeForKey(sim, tokens.id_token, overrides))
  })

  it('refuses another client id with 401 invalid_client', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const response = await exchangeForKey(sim, tokens.id_token, { client_id: 'app_other' })
    expect(response.status).toBe(401)
    expect(errorCodeOf(await response.json())).toBe('invalid_client')
  })
})
