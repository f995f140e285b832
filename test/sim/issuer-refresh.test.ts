/**
 * Conformance of the `refresh_token` grant and revocation (PROTOCOL.md §4): strict rotation over JSON and form
 * bodies, reuse detection that revokes the whole family, expiry, revocation through `/oauth/revoke` and the
 * control API, the error codes a client reads, and a cut connection that loses a rotation's answer.
 */
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import { postForm, postJson, useSimulator } from '../support/sim.js'
import {
  countersOf,
  errorCodeOf,
  manualClock,
  refresh,
  signIn,
  type TokenSet,
} from './issuer-support.js'

async function refreshed(response: Response): Promise<TokenSet> {
  expect(response.status).toBe(200)
  return (await response.json()) as TokenSet
}

async function expectRefreshError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status)
  const body: unknown = await response.json()
  expect(errorCodeOf(body)).toBe(code)
  return body
}

describe('rotation', () => {
  it('rotates with a JSON body and then a form body; each answer has new tokens', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const first = await signIn(sim, 'dev@example.com')
    const response = await refresh(sim, first.refresh_token)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('pragma')).toBe('no-cache')
    const second = await refreshed(response)
    expect(Object.keys(second).sort()).toEqual([
      'access_token',
      'expires_in',
      'id_token',
      'refresh_token',
    ])
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.access_token).not.toBe(first.access_token)
    const third = await refreshed(await refresh(sim, second.refresh_token, { form: true }))
    expect(third.refresh_token).not.toBe(second.refresh_token)
    const counters = await countersOf(sim)
    expect(counters.refreshCalls).toBe(2)
    expect(counters.tokenCalls).toBe(3)
    expect(counters.reuseEvents).toBe(0)
  })

  it.each(['proactive_expiry', 'scheduled', 'unauthorized_recovery', 'forced'])(
    'accepts refresh_reason %s',
    async (reason) => {
      const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
      const tokens = await signIn(sim, 'dev@example.com')
      await refreshed(await refresh(sim, tokens.refresh_token, { reason }))
    },
  )

  it('accepts a refresh without refresh_reason', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    await refreshed(
      await postJson(`${sim.issuer}/oauth/token`, {
        client_id: CODEX_CLIENT_ID,
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      }),
    )
  })

  it('an unknown refresh_reason → 400 invalid_request, and the token is not spent', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    await expectRefreshError(
      await refresh(sim, tokens.refresh_token, { reason: 'because' }),
      400,
      'invalid_request',
    )
    await refreshed(await refresh(sim, tokens.refresh_token))
  })

  it('a wrong client id → 401 invalid_client, and the token is not spent', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    await expectRefreshError(
      await refresh(sim, tokens.refresh_token, { clientId: 'app_other' }),
      401,
      'invalid_client',
    )
    await refreshed(await refresh(sim, tokens.refresh_token))
  })
})

describe('reuse detection', () => {
  it('a used token → 401 refresh_token_reused, the family is revoked, its newest token is invalidated', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const first = await signIn(sim, 'dev@example.com')
    const second = await refreshed(await refresh(sim, first.refresh_token))

    const body = await expectRefreshError(
      await refresh(sim, first.refresh_token),
      401,
      'refresh_token_reused',
    )
    expect(body).toMatchObject({
      error: {
        type: 'invalid_request_error',
        message: expect.stringMatching(/already been used/) as unknown,
      },
    })
    let counters = await countersOf(sim)
    expect(counters.reuseEvents).toBe(1)
    expect(counters.revokedFamilies).toBe(1)

    await expectRefreshError(
      await refresh(sim, second.refresh_token),
      401,
      'refresh_token_invalidated',
    )
    counters = await countersOf(sim)
    expect(counters.reuseEvents).toBe(1)
    expect(counters.revokedFamilies).toBe(1)
  })

  it('revokes only that family: another sign-in of the same account keeps working', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const laptop = await signIn(sim, 'dev@example.com')
    const desktop = await signIn(sim, 'dev@example.com')
    await refreshed(await refresh(sim, laptop.refresh_token))
    await expectRefreshError(await refresh(sim, laptop.refresh_token), 401, 'refresh_token_reused')
    await refreshed(await refresh(sim, desktop.refresh_token))
  })

  it('a cut connection loses the answer but not the rotation, so retrying the old token is reuse', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    sim.control.injectFault({ route: '/oauth/token', kind: 'cut' })
    await expect(refresh(sim, tokens.refresh_token)).rejects.toThrow()
    expect((await countersOf(sim)).refreshCalls).toBe(1)
    await expectRefreshError(await refresh(sim, tokens.refresh_token), 401, 'refresh_token_reused')
  })
})

describe('expired, revoked and unknown refresh tokens', () => {
  it('an expired token → 401 refresh_token_expired', async () => {
    const clock = manualClock()
    const sim = await useSimulator({
      now: clock.now,
      accounts: [{ email: 'dev@example.com' }],
      config: { refreshTokenTtlSeconds: 1 },
    })
    const fresh = await signIn(sim, 'dev@example.com')
    const stale = await signIn(sim, 'dev@example.com')
    await refreshed(await refresh(sim, fresh.refresh_token))
    clock.advance(1_000)
    await expectRefreshError(await refresh(sim, stale.refresh_token), 401, 'refresh_token_expired')
  })

  it('a token revoked through /oauth/revoke (JSON) → 401 refresh_token_invalidated', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const revoked = await signIn(sim, 'dev@example.com')
    const kept = await signIn(sim, 'dev@example.com')
    const response = await postJson(`${sim.issuer}/oauth/revoke`, {
      token: revoked.refresh_token,
      token_type_hint: 'refresh_token',
      client_id: CODEX_CLIENT_ID,
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
    expect((await countersOf(sim)).revokedFamilies).toBe(1)
    await expectRefreshError(
      await refresh(sim, revoked.refresh_token),
      401,
      'refresh_token_invalidated',
    )
    await refreshed(await refresh(sim, kept.refresh_token))
  })

  it('revoking an access token (form body, no hint) revokes its family', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const response = await postForm(`${sim.issuer}/oauth/revoke`, {
      token: tokens.access_token,
      client_id: CODEX_CLIENT_ID,
    })
    expect(response.status).toBe(200)
    await expectRefreshError(
      await refresh(sim, tokens.refresh_token),
      401,
      'refresh_token_invalidated',
    )
  })

  it('revoking an unknown token → 200 {} and revokes nothing (RFC 7009 §2.2)', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const response = await postJson(`${sim.issuer}/oauth/revoke`, {
      token: 'rt_unknown',
      token_type_hint: 'refresh_token',
      client_id: CODEX_CLIENT_ID,
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
    expect((await countersOf(sim)).revokedFamilies).toBe(0)
    await refreshed(await refresh(sim, tokens.refresh_token))
  })

  it('revocation needs the Codex client id and a token', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const tokens = await signIn(sim, 'dev@example.com')
    const url = `${sim.issuer}/oauth/revoke`
    const wrongClient = await postJson(url, { token: tokens.refresh_token, client_id: 'app_x' })
    expect(wrongClient.status).toBe(401)
    expect(errorCodeOf(await wrongClient.json())).toBe('invalid_client')
    const noToken = await postJson(url, { client_id: CODEX_CLIENT_ID })
    expect(noToken.status).toBe(400)
    expect((await countersOf(sim)).revokedFamilies).toBe(0)
    await refreshed(await refresh(sim, tokens.refresh_token))
  })

  it('control.revokeAccount signs the account out everywhere, other accounts stay', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'gone@example.com' }, { email: 'kept@example.com' }],
    })
    const gone = await signIn(sim, 'gone@example.com')
    const kept = await signIn(sim, 'kept@example.com')
    const account = sim.control.accounts().find((a) => a.email === 'gone@example.com')
    expect(sim.control.revokeAccount({ accountId: account?.accountId ?? '' })).toEqual({
      revokedFamilies: 1,
    })
    await expectRefreshError(
      await refresh(sim, gone.refresh_token),
      401,
      'refresh_token_invalidated',
    )
    await refreshed(await refresh(sim, kept.refresh_token))
  })

  it('an unknown token → 401 with "invalid_grant" as the error string', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const body = (await expectRefreshError(
      await refresh(sim, 'rt_never-issued'),
      401,
      'invalid_grant',
    )) as { error: unknown; error_description: unknown }
    expect(body.error).toBe('invalid_grant')
    expect(typeof body.error_description).toBe('string')
  })

  it('a missing refresh_token → 400 invalid_request', async () => {
    const sim = await useSimulator()
    const response = await postJson(`${sim.issuer}/oauth/token`, {
      client_id: CODEX_CLIENT_ID,
      grant_type: 'refresh_token',
    })
    await expectRefreshError(response, 400, 'invalid_request')
  })
})
