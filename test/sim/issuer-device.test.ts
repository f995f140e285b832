/**
 * Conformance of the device-code sign-in (PROTOCOL.md §3, not RFC 8628): the user-code answer's shape, pending
 * polls as 403, approval through the control API and through the `/codex/device` page, the one-time hand-out of
 * the code with the server's PKCE pair, the exchange on `{issuer}/deviceauth/callback`, expiry as a fatal status,
 * and accounts that have device sign-in turned off.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { postJson, useSimulator } from '../support/sim.js'
import {
  decodeJwt,
  errorCodeOf,
  exchangeCode,
  formsOf,
  issuedOf,
  manualClock,
  type TokenSet,
} from './issuer-support.js'

interface UserCodeAnswer {
  device_auth_id: string
  user_code: string
  interval: unknown
}

interface DeviceSuccess {
  authorization_code: string
  code_challenge: string
  code_verifier: string
}

async function startDevice(sim: Simulator): Promise<UserCodeAnswer> {
  const response = await postJson(`${sim.issuer}/api/accounts/deviceauth/usercode`, {
    client_id: CODEX_CLIENT_ID,
  })
  expect(response.status).toBe(200)
  return (await response.json()) as UserCodeAnswer
}

function poll(sim: Simulator, start: Pick<UserCodeAnswer, 'device_auth_id' | 'user_code'>) {
  return postJson(`${sim.issuer}/api/accounts/deviceauth/token`, {
    device_auth_id: start.device_auth_id,
    user_code: start.user_code,
  })
}

function approveOverHttp(sim: Simulator, userCode: string, email: string) {
  return postJson(`${sim.controlBase}/device/approve`, { userCode, email })
}

function submitDeviceForm(sim: Simulator, fields: Record<string, string>, site = 'same-origin') {
  return fetch(`${sim.issuer}/codex/device`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': site },
    body: new URLSearchParams(fields).toString(),
  })
}

describe('POST /api/accounts/deviceauth/usercode', () => {
  it('answers a device id, an ABCD-EFGH user code and the interval as a string', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'dev@example.com' }],
      config: { devicePollIntervalSeconds: 7 },
    })
    const start = await startDevice(sim)
    expect(start.device_auth_id).toEqual(expect.any(String))
    expect(start.user_code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/)
    expect(start.interval).toBe('7')
    expect(await issuedOf(sim)).toContain(start.device_auth_id)
  })

  it('refuses another client id', async () => {
    const sim = await useSimulator()
    const response = await postJson(`${sim.issuer}/api/accounts/deviceauth/usercode`, {
      client_id: 'app_other',
    })
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_client')
  })

  it('answers 404 when every account has device sign-in turned off', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'off@example.com', deviceAuthEnabled: false }],
    })
    const response = await postJson(`${sim.issuer}/api/accounts/deviceauth/usercode`, {
      client_id: CODEX_CLIENT_ID,
    })
    expect(response.status).toBe(404)
    expect(JSON.stringify(await response.json())).toMatch(/Settings → Security/)
    // Positive control: once an account has it on, device sign-in starts.
    sim.control.addAccount({ email: 'on@example.com' })
    await startDevice(sim)
  })
})

describe('POST /api/accounts/deviceauth/token', () => {
  it('is pending (403) until approved, then hands out the code and PKCE pair once', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com', plan: 'team' }] })
    const start = await startDevice(sim)
    const pending = await poll(sim, start)
    expect(pending.status).toBe(403)
    expect(errorCodeOf(await pending.json())).toBe('deviceauth_authorization_pending')

    expect((await approveOverHttp(sim, start.user_code, 'dev@example.com')).status).toBe(200)
    const success = await poll(sim, start)
    expect(success.status).toBe(200)
    const body = (await success.json()) as DeviceSuccess
    expect(Object.keys(body).sort()).toEqual([
      'authorization_code',
      'code_challenge',
      'code_verifier',
    ])
    expect(createHash('sha256').update(body.code_verifier).digest('base64url')).toBe(
      body.code_challenge,
    )
    const issued = await issuedOf(sim)
    expect(issued).toContain(body.authorization_code)
    expect(issued).toContain(body.code_verifier)

    // Handed out once: a later poll is fatal (not 403/404, which would mean "keep polling").
    const again = await poll(sim, start)
    expect(again.status).toBe(410)

    const tokens = await exchangeCode(
      sim,
      body.authorization_code,
      body.code_verifier,
      `${sim.issuer}/deviceauth/callback`,
    )
    expect(tokens.status).toBe(200)
    const { id_token } = (await tokens.json()) as TokenSet
    expect(decodeJwt(id_token).payload).toMatchObject({
      email: 'dev@example.com',
      'https://api.openai.com/auth': { chatgpt_plan_type: 'team' },
    })
  })

  it('the device code only exchanges on the device callback, not on the loopback one', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const start = await startDevice(sim)
    await approveOverHttp(sim, start.user_code, 'dev@example.com')
    const body = (await (await poll(sim, start)).json()) as DeviceSuccess
    const response = await exchangeCode(sim, body.authorization_code, body.code_verifier)
    expect(response.status).toBe(400)
    expect(errorCodeOf(await response.json())).toBe('invalid_grant')
  })

  it('an expired device code is fatal: 410 expired_token, and it can no longer be approved', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now, accounts: [{ email: 'dev@example.com' }] })
    const start = await startDevice(sim)
    clock.advance(15 * 60_000 - 1_000)
    expect((await poll(sim, start)).status).toBe(403)
    clock.advance(1_000)
    const expired = await poll(sim, start)
    expect(expired.status).toBe(410)
    expect(errorCodeOf(await expired.json())).toBe('expired_token')
    expect((await approveOverHttp(sim, start.user_code, 'dev@example.com')).status).toBe(409)
  })

  it('an unknown id, or a user code of another authorization, → 404', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const one = await startDevice(sim)
    const two = await startDevice(sim)
    expect((await poll(sim, { ...one, device_auth_id: 'deviceauth_unknown' })).status).toBe(404)
    expect((await poll(sim, { ...one, user_code: two.user_code })).status).toBe(404)
    expect((await poll(sim, one)).status).toBe(403)
  })

  it('a poll without its fields → 400', async () => {
    const sim = await useSimulator()
    const response = await postJson(`${sim.issuer}/api/accounts/deviceauth/token`, {})
    expect(response.status).toBe(400)
  })

  it('approving a code twice is refused, so no second authorization code is minted', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'a@example.com' }, { email: 'b@example.com' }],
    })
    const start = await startDevice(sim)
    expect((await approveOverHttp(sim, start.user_code, 'a@example.com')).status).toBe(200)
    expect((await approveOverHttp(sim, start.user_code, 'b@example.com')).status).toBe(409)
    const body = (await (await poll(sim, start)).json()) as DeviceSuccess
    const tokens = await exchangeCode(
      sim,
      body.authorization_code,
      body.code_verifier,
      `${sim.issuer}/deviceauth/callback`,
    )
    expect(decodeJwt(((await tokens.json()) as TokenSet).id_token).payload.email).toBe(
      'a@example.com',
    )
  })
})

describe('the /codex/device page', () => {
  it('shows a code field, the accounts (escaped) and the phishing warning', async () => {
    const sim = await useSimulator({
      accounts: [{ email: 'dev@example.com' }, { email: '<script>@x.io' }],
    })
    const response = await fetch(`${sim.issuer}/codex/device?user_code=ABCD-EFGH`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toMatch(/name="user_code"[^>]*value="ABCD-EFGH"/)
    expect(html).toContain('<option value="dev@example.com">')
    expect(html).toContain('&lt;script&gt;@x.io')
    expect(html).not.toMatch(/<script/i)
    expect(html).toMatch(/phishing/)
    expect(formsOf(html).map((form) => form.action)).toEqual(['/codex/device'])
  })

  it('approves a typed code for the chosen account; the poll then succeeds', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'dev@example.com' }] })
    const start = await startDevice(sim)
    const response = await submitDeviceForm(sim, {
      user_code: start.user_code.toLowerCase(),
      email: 'dev@example.com',
    })
    expect(response.status).toBe(200)
    const page = await response.text()
    expect(page).toMatch(/Device approved/)
    for (const secret of await issuedOf(sim)) expect(page).not.toContain(secret)
    expect((await poll(sim, start)).status).toBe(200)
  })

  it('explains an unknown code and a disabled account, and approves nothing', async () => {
    const sim = await useSimulator({
      accounts: [
        { email: 'on@example.com' },
        { email: 'off@example.com', deviceAuthEnabled: false },
      ],
    })
    const start = await startDevice(sim)
    const unknown = await submitDeviceForm(sim, { user_code: 'ZZZZ-ZZZZ', email: 'on@example.com' })
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toMatch(/No pending device code/)
    const disabled = await submitDeviceForm(sim, {
      user_code: start.user_code,
      email: 'off@example.com',
    })
    expect(disabled.status).toBe(409)
    expect(await disabled.text()).toMatch(/Settings → Security/)
    const crossSite = await submitDeviceForm(
      sim,
      { user_code: start.user_code, email: 'on@example.com' },
      'cross-site',
    )
    expect(crossSite.status).toBe(403)
    expect((await poll(sim, start)).status).toBe(403)
  })
})
