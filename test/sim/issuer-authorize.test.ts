/**
 * Conformance of `GET /oauth/authorize` and its sign-in page (PROTOCOL.md §2): the client and redirect URI are
 * checked before anything is redirected, every other error goes back to the client with its `state`, auto-approve
 * answers a code at once, and the page lists accounts safely and posts decisions that are re-checked.
 */
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import {
  REDIRECT_URI,
  authorizeUrl,
  exchangeCode,
  decodeJwt,
  formsOf,
  getManual,
  issuedOf,
  locationOf,
  pkcePair,
  submitForm,
  type PageForm,
  type TokenSet,
} from './issuer-support.js'

describe('GET /oauth/authorize with auto-approve', () => {
  it('answers 302 to the redirect URI with a code and the same state, creating the account', async () => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    const location = locationOf(
      await getManual(authorizeUrl(sim, challenge, { state: 'the-state' })),
    )
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
    expect(location.searchParams.get('state')).toBe('the-state')
    const code = location.searchParams.get('code')
    expect(code).toMatch(/^ac_/)
    expect(await issuedOf(sim)).toContain(code)
    expect(sim.control.accounts().map((account) => account.email)).toEqual(['auto@example.com'])
  })

  it('accepts the fallback port and the device callback, which are registered too', async () => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    for (const uri of [
      'http://127.0.0.1:1457/auth/callback',
      `${sim.issuer}/deviceauth/callback`,
    ]) {
      const location = locationOf(
        await getManual(authorizeUrl(sim, challenge, { redirect_uri: uri })),
      )
      expect(`${location.origin}${location.pathname}`).toBe(uri)
      expect(location.searchParams.get('code')).not.toBeNull()
    }
  })

  it('honours callbackPorts: a parallel test on its own port is registered, 1455 then is not', async () => {
    const sim = await useSimulator({
      callbackPorts: [41_455],
      config: { autoApprove: 'auto@example.com' },
    })
    const { challenge } = pkcePair()
    const ok = await getManual(
      authorizeUrl(sim, challenge, { redirect_uri: 'http://127.0.0.1:41455/auth/callback' }),
    )
    expect(ok.status).toBe(302)
    const refused = await getManual(authorizeUrl(sim, challenge))
    expect(refused.status).toBe(400)
  })
})

describe('GET /oauth/authorize refuses an untrusted client or redirect with a page, never a redirect', () => {
  it.each([
    ['a wrong client id', { client_id: 'app_somebodyElse' }],
    ['a missing client id', { client_id: null }],
    ['localhost instead of 127.0.0.1', { redirect_uri: 'http://localhost:1455/auth/callback' }],
    ['another port', { redirect_uri: 'http://127.0.0.1:1456/auth/callback' }],
    ['a trailing slash', { redirect_uri: 'http://127.0.0.1:1455/auth/callback/' }],
    ['https', { redirect_uri: 'https://127.0.0.1:1455/auth/callback' }],
    ['a foreign site', { redirect_uri: 'https://evil.example/auth/callback' }],
    ['a missing redirect URI', { redirect_uri: null }],
  ])('%s → 400 HTML, no Location', async (_name, overrides) => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    // Positive control: the same request without the fault is approved.
    expect((await getManual(authorizeUrl(sim, challenge))).status).toBe(302)
    const response = await getManual(authorizeUrl(sim, challenge, overrides))
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const page = await response.text()
    expect(page).not.toContain('evil.example')
  })

  it('refuses a repeated redirect_uri, even if one of the values is registered', async () => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    const url = `${authorizeUrl(sim, challenge)}&redirect_uri=${encodeURIComponent('https://evil.example/')}`
    const response = await getManual(url)
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
  })
})

describe('GET /oauth/authorize sends other errors back to the client (RFC 6749 §4.1.2.1)', () => {
  it.each([
    ['the plain method', 'invalid_request', { code_challenge_method: 'plain' }],
    ['a missing method (which means plain)', 'invalid_request', { code_challenge_method: null }],
    ['a missing challenge', 'invalid_request', { code_challenge: null }],
    ['a 42-character challenge', 'invalid_request', { code_challenge: 'a'.repeat(42) }],
    ['a challenge with padding', 'invalid_request', { code_challenge: `${'a'.repeat(42)}=` }],
    ['response_type=token', 'unsupported_response_type', { response_type: 'token' }],
    ['a missing response_type', 'invalid_request', { response_type: null }],
    ['a scope without offline_access', 'invalid_scope', { scope: 'openid profile email' }],
    ['a scope without openid', 'invalid_scope', { scope: 'profile email offline_access' }],
  ])('%s → %s', async (_name, error, overrides) => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    const good = locationOf(await getManual(authorizeUrl(sim, challenge, { state: 's1' })))
    expect(good.searchParams.get('code')).not.toBeNull()
    const location = locationOf(
      await getManual(authorizeUrl(sim, challenge, { state: 's1', ...overrides })),
    )
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
    expect(location.searchParams.get('error')).toBe(error)
    expect(location.searchParams.get('error_description')).toBeTruthy()
    expect(location.searchParams.get('state')).toBe('s1')
    expect(location.searchParams.get('code')).toBeNull()
  })

  it('a missing state → invalid_request without a state parameter', async () => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    const location = locationOf(await getManual(authorizeUrl(sim, challenge, { state: null })))
    expect(location.searchParams.get('error')).toBe('invalid_request')
    expect(location.searchParams.get('error_description')).toMatch(/state/)
    expect(location.searchParams.has('state')).toBe(false)
    expect(location.searchParams.get('code')).toBeNull()
  })

  it('a repeated parameter → invalid_request', async () => {
    const sim = await useSimulator({ config: { autoApprove: 'auto@example.com' } })
    const { challenge } = pkcePair()
    const location = locationOf(await getManual(`${authorizeUrl(sim, challenge)}&scope=openid`))
    expect(location.searchParams.get('error')).toBe('invalid_request')
    expect(location.searchParams.get('code')).toBeNull()
  })
})

describe('the sign-in page', () => {
  async function openPage(accounts: { email: string }[]) {
    const sim = await useSimulator({ accounts })
    const { verifier, challenge } = pkcePair()
    const response = await getManual(authorizeUrl(sim, challenge, { state: 'page-state' }))
    expect(response.status).toBe(200)
    return { sim, verifier, response, html: await response.text() }
  }

  it('lists every account, escaped, loads nothing from elsewhere and holds no secret', async () => {
    const { sim, response, html } = await openPage([
      { email: 'dev@example.com' },
      { email: '<script>@x.io' },
    ])
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/)
    expect(response.headers.get('content-security-policy')).toMatch(
      /form-action 'self' http:\/\/127\.0\.0\.1:1455/,
    )
    expect(html).toContain('dev@example.com')
    expect(html).toContain('&lt;script&gt;@x.io')
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<(link|img|iframe)\b/i)
    expect(html).not.toMatch(/\ssrc=/i)
    const approvals = formsOf(html).filter((form) => form.button?.[1] === 'approve')
    expect(approvals).toHaveLength(2)
    // Nothing was issued by showing the page, so no secret can be in it.
    expect(await issuedOf(sim)).toEqual([])
  })

  it('Approve posts the decision and answers 302 with a code that exchanges for that account', async () => {
    const { sim, verifier, html } = await openPage([
      { email: 'first@example.com' },
      { email: 'second@example.com' },
    ])
    const second = sim.control.accounts().find((account) => account.email === 'second@example.com')
    const form = formsOf(html).find((candidate) =>
      candidate.fields.some(
        ([name, value]) => name === 'account_id' && value === second?.accountId,
      ),
    )
    if (!form) throw new Error('no approve form for the second account')
    const location = locationOf(await submitForm(sim, form))
    expect(location.searchParams.get('state')).toBe('page-state')
    const code = location.searchParams.get('code') ?? ''
    const tokens = (await (await exchangeCode(sim, code, verifier)).json()) as TokenSet
    expect(decodeJwt(tokens.id_token).payload.email).toBe('second@example.com')
  })

  it('Deny answers 302 with error=access_denied and the state, and no code', async () => {
    const { sim, html } = await openPage([{ email: 'dev@example.com' }])
    const deny = formsOf(html).find((form) => form.button?.[1] === 'deny')
    if (!deny) throw new Error('no deny form')
    const location = locationOf(await submitForm(sim, deny))
    expect(location.searchParams.get('error')).toBe('access_denied')
    expect(location.searchParams.get('state')).toBe('page-state')
    expect(location.searchParams.get('code')).toBeNull()
    expect(await issuedOf(sim)).toEqual([])
  })

  it('the decision re-checks the request: an edited redirect_uri gets a page, not a redirect', async () => {
    const { sim, html } = await openPage([{ email: 'dev@example.com' }])
    const approve = formsOf(html).find((form) => form.button?.[1] === 'approve')
    if (!approve) throw new Error('no approve form')
    const edited: PageForm = {
      ...approve,
      fields: approve.fields.map(([name, value]) =>
        name === 'redirect_uri' ? [name, 'https://evil.example/cb'] : [name, value],
      ),
    }
    const response = await submitForm(sim, edited)
    expect(response.status).toBe(400)
    expect(response.headers.get('location')).toBeNull()
    // Positive control: the untouched form is approved.
    expect((await submitForm(sim, approve)).status).toBe(302)
  })

  it('the decision re-checks PKCE: an edited method is an error redirect', async () => {
    const { sim, html } = await openPage([{ email: 'dev@example.com' }])
    const approve = formsOf(html).find((form) => form.button?.[1] === 'approve')
    if (!approve) throw new Error('no approve form')
    const edited: PageForm = {
      ...approve,
      fields: approve.fields.map(([name, value]) =>
        name === 'code_challenge_method' ? [name, 'plain'] : [name, value],
      ),
    }
    const location = locationOf(await submitForm(sim, edited))
    expect(location.searchParams.get('error')).toBe('invalid_request')
    expect(location.searchParams.get('code')).toBeNull()
  })

  it('refuses an unknown account and a cross-site submission', async () => {
    const { sim, html } = await openPage([{ email: 'dev@example.com' }])
    const approve = formsOf(html).find((form) => form.button?.[1] === 'approve')
    if (!approve) throw new Error('no approve form')
    const unknown: PageForm = {
      ...approve,
      fields: approve.fields.map(([name, value]) =>
        name === 'account_id' ? [name, 'no-such-account'] : [name, value],
      ),
    }
    expect((await submitForm(sim, unknown)).status).toBe(400)
    const crossSite = await submitForm(sim, approve, {
      'sec-fetch-site': 'cross-site',
      origin: 'https://evil.example',
    })
    expect(crossSite.status).toBe(403)
    expect(crossSite.headers.get('location')).toBeNull()
    expect(await issuedOf(sim)).toEqual([])
    expect((await submitForm(sim, approve)).status).toBe(302)
  })

  it('refuses a decision that is not a form', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const response = await fetch(`${sim.issuer}/oauth/authorize/decision`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: CODEX_CLIENT_ID, decision: 'approve' }),
    })
    expect(response.status).toBe(415)
  })
})
