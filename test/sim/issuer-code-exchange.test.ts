/**
 * Conformance of the `authorization_code` grant (PROTOCOL.md §2): the token response and its headers, the claims
 * of PROTOCOL.md §5 in real RS256 JWTs verifiable against the published JWKS, PKCE verification, single-use codes
 * with family revocation on replay, exact redirect URI matching and code expiry.
 */
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import { postJson, useSimulator } from '../support/sim.js'
import {
  authorizeCode,
  countersOf,
  decodeJwt,
  errorCodeOf,
  exchangeCode,
  issuedOf,
  manualClock,
  refresh,
  type TokenSet,
} from './issuer-support.js'

const AUTH_CLAIM = 'https://api.openai.com/auth'

describe('authorization_code grant', () => {
  it('answers the tokens, no-store, with the claims of PROTOCOL.md §5 and the configured lifetime', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'dev@example.com', plan: 'pro' }],
      config: { accessTokenTtlSeconds: 1234 },
    })
    const [account] = sim.control.accounts()
    const { code, verifier } = await authorizeCode(sim, 'dev@example.com')
    const response = await exchangeCode(sim, code, verifier)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('pragma')).toBe('no-cache')
    const body = (await response.json()) as TokenSet & { token_type: string; scope: string }
    expect(body.token_type).toBe('Bearer')
    expect(body.expires_in).toBe(1234)
    expect(body.scope.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access']))
    expect(body.refresh_token).toMatch(/^rt_/)

    const id = decodeJwt(body.id_token).payload
    expect(id.email).toBe('dev@example.com')
    expect(id.iss).toBe(sim.issuer)
    expect(id.aud).toEqual([CODEX_CLIENT_ID])
    expect(id[AUTH_CLAIM]).toMatchObject({
      chatgpt_account_id: account?.accountId,
      chatgpt_plan_type: 'pro',
      chatgpt_user_id: expect.stringMatching(/^user-/) as unknown,
    })
    expect(Number(id.exp) - Number(id.iat)).toBe(1234)

    const access = decodeJwt(body.access_token).payload
    expect(access[AUTH_CLAIM]).toMatchObject({
      chatgpt_account_id: account?.accountId,
      chatgpt_plan_type: 'pro',
    })
    expect(Number(access.exp) - Number(access.iat)).toBe(1234)

    const issued = await issuedOf(sim)
    for (const secret of [code, body.id_token, body.access_token, body.refresh_token]) {
      expect(issued).toContain(secret)
    }
  })

  it('signs with RS256 under a key of /.well-known/jwks.json, and a changed payload fails to verify', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier } = await authorizeCode(sim, 'dev@example.com')
    const tokens = (await (await exchangeCode(sim, code, verifier)).json()) as TokenSet
    const jwks = (await (await fetch(`${sim.issuer}/.well-known/jwks.json`)).json()) as {
      keys: (JsonWebKey & { kid: string; alg: string; use: string })[]
    }
    expect(jwks.keys.length).toBeGreaterThan(0)

    const verifies = (token: string): boolean => {
      const { header } = decodeJwt(token)
      expect(header.alg).toBe('RS256')
      const jwk = jwks.keys.find((key) => key.kid === header.kid)
      if (!jwk) throw new Error(`no key ${String(header.kid)}`)
      expect(jwk.alg).toBe('RS256')
      const key = createPublicKey({ key: jwk, format: 'jwk' })
      const [h = '', p = '', s = ''] = token.split('.')
      return verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))
    }
    expect(verifies(tokens.id_token)).toBe(true)
    expect(verifies(tokens.access_token)).toBe(true)

    const [h, , s] = tokens.id_token.split('.')
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...decodeJwt(tokens.id_token).payload, email: 'attacker@example.com' }),
    ).toString('base64url')
    expect(verifies(`${h ?? ''}.${forgedPayload}.${s ?? ''}`)).toBe(false)
  })

  it('also accepts a JSON body', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier, redirectUri } = await authorizeCode(sim, 'dev@example.com')
    const response = await postJson(`${sim.issuer}/oauth/token`, {
      grant_type: 'authorization_code',
      client_id: CODEX_CLIENT_ID,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    })
    expect(response.status).toBe(200)
    expect(((await response.json()) as TokenSet).access_token).toBeTruthy()
  })
})

describe('PKCE verification', () => {
  it('a wrong verifier → 400 invalid_grant with no token issued, and the code is spent', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier } = await authorizeCode(sim, 'dev@example.com')
    const before = (await issuedOf(sim)).length
    const wrong = await exchangeCode(sim, code, `${verifier.slice(0, -1)}x`)
    expect(wrong.status).toBe(400)
    expect(errorCodeOf(await wrong.json())).toBe('invalid_grant')
    expect((await issuedOf(sim)).length).toBe(before)
    // The first presentation spent the code, so even the right verifier cannot use it now.
    const retry = await exchangeCode(sim, code, verifier)
    expect(retry.status).toBe(400)
    expect((await issuedOf(sim)).length).toBe(before)
    // Positive control: a fresh code with its own verifier works.
    const fresh = await authorizeCode(sim, 'dev@example.com')
    expect((await exchangeCode(sim, fresh.code, fresh.verifier)).status).toBe(200)
  })

  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['outside the unreserved set', `${'a'.repeat(42)}+`],
    ['empty', ''],
  ])('a verifier %s → invalid_grant', async (_name, badVerifier) => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code } = await authorizeCode(sim, 'dev@example.com')
    const response = await exchangeCode(sim, code, badVerifier)
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
  })

  it('a missing verifier → invalid_grant', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, redirectUri } = await authorizeCode(sim, 'dev@example.com')
    const response = await postJson(`${sim.issuer}/oauth/token`, {
      grant_type: 'authorization_code',
      client_id: CODEX_CLIENT_ID,
      code,
      redirect_uri: redirectUri,
    })
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
  })
})

describe('single-use codes', () => {
  it('a replayed code → invalid_grant, and the family issued from it is revoked', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier } = await authorizeCode(sim, 'dev@example.com')
    const first = (await (await exchangeCode(sim, code, verifier)).json()) as TokenSet
    expect((await countersOf(sim)).revokedFamilies).toBe(0)

    const replay = await exchangeCode(sim, code, verifier)
    expect(replay.status).toBe(400)
    expect(errorCodeOf(await replay.json())).toBe('invalid_grant')
    expect((await countersOf(sim)).revokedFamilies).toBe(1)

    const afterReplay = await refresh(sim, first.refresh_token)
    expect(afterReplay.status).toBe(401)
    expect(errorCodeOf(await afterReplay.json())).toBe('refresh_token_invalidated')
  })

  it('an unknown code → invalid_grant', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { verifier } = await authorizeCode(sim, 'dev@example.com')
    const response = await exchangeCode(sim, 'ac_not-a-code', verifier)
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
  })

  it('an expired code → invalid_grant', async () => {
    const clock = manualClock()
    const sim = await useSimulator({
      now: clock.now,
      accounts: [{ email: 'dev@example.com' }],
      config: { authCodeTtlSeconds: 60 },
    })
    const early = await authorizeCode(sim, 'dev@example.com')
    clock.advance(59_000)
    expect((await exchangeCode(sim, early.code, early.verifier)).status).toBe(200)
    const late = await authorizeCode(sim, 'dev@example.com')
    clock.advance(60_000)
    const response = await exchangeCode(sim, late.code, late.verifier)
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
  })
})

describe('client and redirect URI at the exchange', () => {
  it.each([
    ['the other registered port', 'http://127.0.0.1:1457/auth/callback'],
    ['localhost', 'http://localhost:1455/auth/callback'],
    ['a trailing slash', 'http://127.0.0.1:1455/auth/callback/'],
  ])('a redirect_uri that differs (%s) → invalid_grant', async (_name, otherUri) => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier } = await authorizeCode(sim, 'dev@example.com')
    const response = await exchangeCode(sim, code, verifier, otherUri)
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
    const fresh = await authorizeCode(sim, 'dev@example.com')
    expect((await exchangeCode(sim, fresh.code, fresh.verifier)).status).toBe(200)
  })

  it('a wrong client id → 401 invalid_client, and the code is not spent by it', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const { code, verifier, redirectUri } = await authorizeCode(sim, 'dev@example.com')
    const response = await exchangeCode(sim, code, verifier, redirectUri, 'app_other')
    expect(response.status).toBe(401)
    expect(errorCodeOf(await response.json())).toBe('invalid_client')
    expect((await exchangeCode(sim, code, verifier)).status).toBe(200)
  })
})
