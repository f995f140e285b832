/**
 * The token endpoint as a whole and discovery: grant dispatch and content types, the counters, injected faults
 * (a 500 once then normal, a slow answer), the leak inventory of `/__sim/issued` after every kind of grant, and
 * the OpenID configuration and JWKS documents.
 */
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import { postForm, postJson, useSimulator } from '../support/sim.js'
import {
  countersOf,
  errorCodeOf,
  issuedOf,
  refresh,
  signIn,
  type TokenSet,
} from './issuer-support.js'

describe('POST /oauth/token dispatch', () => {
  it('an unknown grant → 400 unsupported_grant_type; a missing one → invalid_request', async () => {
    const sim = await useSimulator()
    const unknown = await postForm(`${sim.issuer}/oauth/token`, {
      grant_type: 'password',
      client_id: CODEX_CLIENT_ID,
    })
    expect(unknown.status).toBe(400)
    expect(unknown.headers.get('pragma')).toBe('no-cache')
    expect(errorCodeOf(await unknown.json())).toBe('unsupported_grant_type')
    const missing = await postForm(`${sim.issuer}/oauth/token`, { client_id: CODEX_CLIENT_ID })
    expect(missing.status).toBe(400)
    expect(errorCodeOf(await missing.json())).toBe('invalid_request')
  })

  it('another content type → 415', async () => {
    const sim = await useSimulator()
    const response = await fetch(`${sim.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'grant_type=refresh_token',
    })
    expect(response.status).toBe(415)
  })

  it('a repeated form parameter → 400 invalid_request (RFC 6749 §3.2)', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: CODEX_CLIENT_ID,
      refresh_token: tokens.refresh_token,
    })
    body.append('refresh_token', 'rt_other')
    const response = await fetch(`${sim.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    })
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_request')
  })
})

describe('counters', () => {
  it('tokenCalls counts every call to /oauth/token, refreshCalls only refresh grants', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    expect(await countersOf(sim)).toMatchObject({ tokenCalls: 0, refreshCalls: 0 })
    const tokens = await signIn(sim, 'dev@example.com')
    await refresh(sim, tokens.refresh_token)
    await refresh(sim, 'rt_unknown')
    await postForm(`${sim.issuer}/oauth/token`, { grant_type: 'password' })
    const counters = await countersOf(sim)
    expect(counters.tokenCalls).toBe(4)
    expect(counters.refreshCalls).toBe(2)
    expect(counters.requests['/oauth/token']).toBe(4)
    expect(counters.requests['/oauth/authorize']).toBe(1)
  })
})

describe('faults', () => {
  it('an injected 500 on /oauth/token answers 500 once, then the endpoint is normal', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const inject = await postJson(`${sim.controlBase}/faults`, {
      route: '/oauth/token',
      kind: '500',
    })
    expect(inject.status).toBe(200)
    const failed = await refresh(sim, tokens.refresh_token)
    expect(failed.status).toBe(500)
    // The failed call did not spend the refresh token.
    const ok = await refresh(sim, tokens.refresh_token)
    expect(ok.status).toBe(200)
  })

  it('a slow fault delays the answer by slowStreamDelayMs, then answers normally', async () => {
    const sim = await useSimulator({ config: { slowStreamDelayMs: 300 } })
    sim.control.injectFault({ route: '/.well-known/jwks.json', kind: 'slow' })
    const started = performance.now()
    const response = await fetch(`${sim.issuer}/.well-known/jwks.json`)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(response.status).toBe(200)
    expect(((await response.json()) as { keys: unknown[] }).keys).toHaveLength(1)
  })

  it('a cut fault drops the connection without an answer, once', async () => {
    const sim = await useSimulator()
    sim.control.injectFault({ route: '/.well-known/openid-configuration', kind: 'cut' })
    const url = `${sim.issuer}/.well-known/openid-configuration`
    await expect(fetch(url)).rejects.toThrow()
    expect((await fetch(url)).status).toBe(200)
  })
})

describe('/__sim/issued', () => {
  it('lists every secret the issuer returned: tokens, rotated tokens, API key', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const first = await signIn(sim, 'dev@example.com')
    const second = (await (await refresh(sim, first.refresh_token)).json()) as TokenSet
    const key = (await (
      await postForm(`${sim.issuer}/oauth/token`, {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: CODEX_CLIENT_ID,
        requested_token: 'openai-api-key',
        subject_token: second.id_token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      })
    ).json()) as { access_token: string }
    const issued = await issuedOf(sim)
    const secrets = [first, second].flatMap((set) => [
      set.id_token,
      set.access_token,
      set.refresh_token,
    ])
    for (const secret of [...secrets, key.access_token]) {
      expect(issued).toContain(secret)
    }
  })
})

describe('discovery', () => {
  it('publishes an OpenID configuration with S256 only and the endpoints on this issuer', async () => {
    const sim = await useSimulator()
    const response = await fetch(`${sim.issuer}/.well-known/openid-configuration`)
    expect(response.status).toBe(200)
    const config = (await response.json()) as Record<string, unknown>
    expect(config).toMatchObject({
      issuer: sim.issuer,
      authorization_endpoint: `${sim.issuer}/oauth/authorize`,
      token_endpoint: `${sim.issuer}/oauth/token`,
      revocation_endpoint: `${sim.issuer}/oauth/revoke`,
      jwks_uri: `${sim.issuer}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['RS256'],
    })
    expect(config).not.toHaveProperty('device_authorization_endpoint')
    const jwks = (await (await fetch(String(config.jwks_uri))).json()) as {
      keys: Record<string, unknown>[]
    }
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' })
    expect(jwks.keys[0]).not.toHaveProperty('d')
  })
})
