/**
 * CB-12 and PROTOCOL.md §3: the device-code sign-in against the simulator — pending polls, approval, the exchange
 * on `{issuer}/deviceauth/callback` with the server's verifier, `slow_down` adding 5 s for good, expiry after
 * 15 minutes (by the broker's clock and by the issuer's 410), the "not enabled" 404, fatal statuses, abort — and
 * the device id never reaching `onCode`. Time runs on a self-advancing ManualClock shared with the simulator.
 */
import { describe, expect, it } from 'vitest'
import { isBrokerError, ManualClock } from '../../src/lib/index.js'
import {
  DEVICE_AUTH_NOT_ENABLED_ADVICE,
  DEVICE_CODE_PHISHING_WARNING,
  type DeviceCodePrompt,
  loginWithDeviceCode,
  pollDeviceAuthorization,
  processDeviceTokenResponse,
  processUserCodeResponse,
  requestDeviceCode,
} from '../../src/oauth/index.js'
import type { Simulator } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import { issuerOf, jsonResponse, rejectionOf, selfAdvancingClock } from './support.js'

const EMAIL = 'device@example.com'
const POLL_PATH = '/api/accounts/deviceauth/token'

/**
 * A fetch in front of the simulator: `intercept` may answer a poll itself (return a Response) or let it through
 * (return undefined); `afterPoll` runs after each poll that reached the simulator.
 */
function frontFetch(hooks: {
  intercept?: (poll: number) => Response | undefined
  afterPoll?: (poll: number, status: number) => void
}): { fetch: typeof fetch; polls: () => number } {
  let polls = 0
  const wrapped: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    if (!new URL(request.url).pathname.endsWith(POLL_PATH)) return fetch(request)
    polls += 1
    const canned = hooks.intercept?.(polls)
    if (canned !== undefined) return canned
    const response = await fetch(request)
    hooks.afterPoll?.(polls, response.status)
    return response
  }
  return { fetch: wrapped, polls: () => polls }
}

function approver(sim: Simulator, prompts: DeviceCodePrompt[]) {
  return () => {
    const prompt = prompts[0]
    if (prompt === undefined) throw new Error('no prompt yet')
    sim.control.approveDevice({ userCode: prompt.userCode, email: EMAIL })
  }
}

describe('CB-12: loginWithDeviceCode', () => {
  it('pending → approved → tokens, polling every interval on the injected clock', async () => {
    const { clock, manual, sleeps } = selfAdvancingClock()
    const sim = await useSimulator({ accounts: [{ email: EMAIL }], now: () => manual.now() })
    const start = manual.now()
    const prompts: DeviceCodePrompt[] = []
    const approve = approver(sim, prompts)
    const front = frontFetch({
      afterPoll: (poll, status) => {
        expect(status).toBe(poll <= 2 ? 403 : 200)
        if (poll === 2) approve()
      },
    })
    const tokens = await loginWithDeviceCode({
      config: issuerOf(sim, { fetch: front.fetch }),
      clock,
      onCode: (prompt) => {
        prompts.push(prompt)
      },
    })
    expect(front.polls()).toBe(3)
    expect(sleeps).toEqual([5_000, 5_000, 5_000])
    expect(sim.control.issued()).toContain(tokens.refreshToken.reveal())

    const [prompt] = prompts
    expect(prompt).toEqual({
      verificationUrl: `${sim.issuer}/codex/device`,
      userCode: expect.stringMatching(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/) as unknown,
      expiresAt: start + 15 * 60_000,
      warning: DEVICE_CODE_PHISHING_WARNING,
    })
    expect(DEVICE_CODE_PHISHING_WARNING).toBe(
      'Device codes are a common phishing target. Never share this code.',
    )
    // the device id (and every other issued secret) never reached onCode
    const shown = JSON.stringify(prompts)
    for (const secret of sim.control.issued()) expect(shown).not.toContain(secret)

    // the exchange used {issuer}/deviceauth/callback and the server's verifier
    const exchange = sim.control
      .requests('/oauth/token')
      .map((request) => new URLSearchParams(request.body ?? ''))
      .find((form) => form.get('grant_type') === 'authorization_code')
    expect(exchange?.get('redirect_uri')).toBe(`${sim.issuer}/deviceauth/callback`)
    expect(sim.control.issued()).toContain(exchange?.get('code_verifier'))
    // the poll body is {device_auth_id, user_code}
    const [poll] = sim.control.requests(POLL_PATH)
    expect(Object.keys(JSON.parse(poll?.body ?? '{}') as object)).toEqual([
      'device_auth_id',
      'user_code',
    ])
  })

  it('works with devicePollIntervalSeconds: 0 on the system clock', async () => {
    const sim = await useSimulator({
      accounts: [{ email: EMAIL }],
      config: { devicePollIntervalSeconds: 0 },
    })
    const tokens = await loginWithDeviceCode({
      config: issuerOf(sim),
      onCode: ({ userCode }) => {
        sim.control.approveDevice({ userCode, email: EMAIL })
      },
    })
    expect(sim.control.issued()).toContain(tokens.accessToken.reveal())
  })

  it('slow_down twice adds 5 s each time, for good: sleeps 5, 10, 15, 15', async () => {
    const { clock, manual, sleeps } = selfAdvancingClock()
    const sim = await useSimulator({ accounts: [{ email: EMAIL }], now: () => manual.now() })
    const prompts: DeviceCodePrompt[] = []
    const approve = approver(sim, prompts)
    const front = frontFetch({
      intercept: (poll) => (poll <= 2 ? jsonResponse(400, { error: 'slow_down' }) : undefined),
      afterPoll: (poll, status) => {
        if (poll === 3) {
          expect(status).toBe(403)
          approve()
        }
      },
    })
    await loginWithDeviceCode({
      config: issuerOf(sim, { fetch: front.fetch }),
      clock,
      onCode: (prompt) => {
        prompts.push(prompt)
      },
    })
    expect(front.polls()).toBe(4)
    expect(sleeps).toEqual([5_000, 10_000, 15_000, 15_000])
  })

  it('gives up after 15 minutes by its own clock: ERR_DEVICE_CODE_EXPIRED', async () => {
    const { clock, manual, sleeps } = selfAdvancingClock()
    const sim = await useSimulator({ accounts: [{ email: EMAIL }], now: () => manual.now() })
    const start = manual.now()
    const front = frontFetch({})
    const error = await rejectionOf(
      loginWithDeviceCode({
        config: issuerOf(sim, { fetch: front.fetch }),
        clock,
        onCode: () => undefined,
      }),
    )
    expect(isBrokerError(error, 'ERR_DEVICE_CODE_EXPIRED')).toBe(true)
    expect(manual.now() - start).toBe(15 * 60_000)
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(15 * 60_000)
    expect(front.polls()).toBe(sleeps.length - 1)
    expect(sim.control.counters().tokenCalls).toBe(0)
  })

  it("stops at the issuer's expired_token (410): ERR_DEVICE_CODE_EXPIRED after one poll", async () => {
    let simNow = Date.UTC(2026, 0, 1)
    const sim = await useSimulator({ accounts: [{ email: EMAIL }], now: () => simNow })
    const { clock } = selfAdvancingClock()
    const front = frontFetch({})
    const error = await rejectionOf(
      loginWithDeviceCode({
        config: issuerOf(sim, { fetch: front.fetch }),
        clock,
        onCode: () => {
          simNow += 16 * 60_000
        },
      }),
    )
    expect(isBrokerError(error, 'ERR_DEVICE_CODE_EXPIRED')).toBe(true)
    expect(front.polls()).toBe(1)
  })

  it('a 404 from usercode → ERR_DEVICE_AUTH_NOT_ENABLED with the advice; positive control', async () => {
    const disabled = await useSimulator({ accounts: [{ email: EMAIL, deviceAuthEnabled: false }] })
    let shown = 0
    const error = await rejectionOf(
      loginWithDeviceCode({
        config: issuerOf(disabled),
        onCode: () => {
          shown += 1
        },
      }),
    )
    expect(isBrokerError(error, 'ERR_DEVICE_AUTH_NOT_ENABLED')).toBe(true)
    expect((error as Error).message).toContain(DEVICE_AUTH_NOT_ENABLED_ADVICE)
    expect(DEVICE_AUTH_NOT_ENABLED_ADVICE).toBe(
      'Enable device code sign-in in ChatGPT Settings → Security, or use the browser sign-in (codex-broker login without --device).',
    )
    expect(shown).toBe(0)
    const enabled = await useSimulator({ accounts: [{ email: EMAIL, deviceAuthEnabled: true }] })
    await expect(requestDeviceCode(issuerOf(enabled))).resolves.toMatchObject({
      intervalSeconds: 5,
    })
  })

  it('any other non-2xx poll is fatal (no further polls)', async () => {
    const { clock, manual } = selfAdvancingClock()
    const sim = await useSimulator({ accounts: [{ email: EMAIL }], now: () => manual.now() })
    sim.control.injectFault({ route: POLL_PATH, kind: '500' })
    const front = frontFetch({})
    const error = await rejectionOf(
      loginWithDeviceCode({
        config: issuerOf(sim, { fetch: front.fetch }),
        clock,
        onCode: () => undefined,
      }),
    )
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
    expect(front.polls()).toBe(1)
  })

  it('an abort while waiting ends with ERR_LOGIN_CANCELLED', async () => {
    const sim = await useSimulator({ accounts: [{ email: EMAIL }] })
    const clock = new ManualClock(Date.UTC(2026, 0, 1))
    const controller = new AbortController()
    const handle = await requestDeviceCode(issuerOf(sim), { clock })
    const polling = pollDeviceAuthorization(issuerOf(sim), handle, {
      clock,
      signal: controller.signal,
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(clock.pendingSleepers).toBe(1)
    controller.abort()
    const error = await rejectionOf(polling)
    expect(isBrokerError(error, 'ERR_LOGIN_CANCELLED')).toBe(true)
    expect(sim.control.counters().requests[POLL_PATH]).toBeUndefined()
  })
})

describe('processUserCodeResponse', () => {
  const context = { issuer: 'https://auth.openai.com/', now: 1_000 }

  it.each([
    [{ device_auth_id: 'd', user_code: 'AAAA-BBBB', interval: '7' }, 'AAAA-BBBB', 7],
    [{ device_auth_id: 'd', usercode: 'CCCC-DDDD', interval: 3 }, 'CCCC-DDDD', 3],
    [{ device_auth_id: 'd', user_code: 'EEEE-FFFF' }, 'EEEE-FFFF', 5],
    [{ device_auth_id: 'd', user_code: 'GGGG-HHHH', interval: 'soon' }, 'GGGG-HHHH', 5],
    [{ device_auth_id: 'd', user_code: 'IIII-JJJJ', interval: '' }, 'IIII-JJJJ', 5],
    [{ device_auth_id: 'd', user_code: 'KKKK-LLLL', interval: '1000' }, 'KKKK-LLLL', 60],
  ])('%j', async (body, userCode, intervalSeconds) => {
    const handle = await processUserCodeResponse(jsonResponse(200, body), context)
    expect(handle).toMatchObject({
      userCode,
      intervalSeconds,
      verificationUrl: 'https://auth.openai.com/codex/device',
      expiresAt: 1_000 + 15 * 60_000,
    })
  })

  it('keeps the device id secret', async () => {
    const id = 'deviceauth_0123456789abcdefghij'
    const handle = await processUserCodeResponse(
      jsonResponse(200, { device_auth_id: id, user_code: 'AAAA-BBBB', interval: '5' }),
      context,
    )
    expect(handle.deviceAuthId.reveal()).toBe(id)
    expect(JSON.stringify(handle)).not.toContain(id)
    expect(String(handle.deviceAuthId)).toBe('[REDACTED]')
  })

  it('refuses an answer without a user code', async () => {
    const error = await rejectionOf(
      processUserCodeResponse(jsonResponse(200, { device_auth_id: 'd' }), context),
    )
    expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
  })
})

describe('processDeviceTokenResponse', () => {
  it.each([
    [403, {}, 'pending'],
    [404, null, 'pending'],
    [403, { error: { code: 'deviceauth_authorization_pending' } }, 'pending'],
    [400, { error: 'authorization_pending' }, 'pending'],
    [400, { error: 'slow_down' }, 'slow_down'],
    [429, { error: { code: 'slow_down' } }, 'slow_down'],
  ])('HTTP %i %j → %s', async (status, body, kind) => {
    const response = body === null ? new Response(null, { status }) : jsonResponse(status, body)
    expect((await processDeviceTokenResponse(response)).kind).toBe(kind)
  })

  it.each([
    [410, {}, 'ERR_DEVICE_CODE_EXPIRED'],
    [400, { error: 'expired_token' }, 'ERR_DEVICE_CODE_EXPIRED'],
    [400, { error: 'invalid_request' }, 'ERR_UPSTREAM_UNAUTHORIZED'],
    [401, {}, 'ERR_UPSTREAM_UNAUTHORIZED'],
    [502, {}, 'ERR_UPSTREAM_UNAVAILABLE'],
    [302, {}, 'ERR_UPSTREAM_BAD_RESPONSE'],
    [200, { authorization_code: 'ac' }, 'ERR_UPSTREAM_BAD_RESPONSE'],
  ] as const)('HTTP %i %j → %s', async (status, body, code) => {
    const error = await rejectionOf(processDeviceTokenResponse(jsonResponse(status, body)))
    expect(isBrokerError(error, code)).toBe(true)
  })

  it('a 2xx hands out the code and the server verifier as secrets', async () => {
    const outcome = await processDeviceTokenResponse(
      jsonResponse(200, { authorization_code: 'ac_1', code_challenge: 'x', code_verifier: 'v_1' }),
    )
    if (outcome.kind !== 'authorized') throw new Error(outcome.kind)
    expect(outcome.authorization.authorizationCode.reveal()).toBe('ac_1')
    expect(outcome.authorization.codeVerifier.reveal()).toBe('v_1')
    expect(JSON.stringify(outcome)).not.toMatch(/ac_1|v_1/)
  })
})
