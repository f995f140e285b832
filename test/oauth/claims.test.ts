/**
 * Claims parsing (PROTOCOL.md §5): a real id token and access token from the simulator give the account, email
 * and plan; malformed tokens fail with ERR_UPSTREAM_BAD_RESPONSE and without the token in the message.
 */
import { describe, expect, it } from 'vitest'
import { isBrokerError, Secret } from '../../src/lib/index.js'
import { parseAccessTokenClaims, parseIdTokenClaims, planTypeOf } from '../../src/oauth/index.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'

function jwt(payload: unknown): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(payload)}.c2lnbmF0dXJl`
}

function failure(call: () => unknown): unknown {
  try {
    call()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

describe('claims of the simulator tokens (positive control)', () => {
  it('reads account, email, plan and expiry', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'claims@example.com', plan: 'pro' })
    const id = parseIdTokenClaims(Secret.from(account.idToken))
    expect(id.chatgptAccountId).toBe(account.accountId)
    expect(id.email).toBe('claims@example.com')
    expect(id.planType).toBe('pro')
    expect(id.expiresAt).toEqual(expect.any(Number))
    const access = parseAccessTokenClaims(account.accessToken)
    expect(access.chatgptAccountId).toBe(account.accountId)
    expect(access.expiresAt).toBeGreaterThan(Date.now())
  })
})

describe('malformed tokens', () => {
  const good = {
    email: 'a@example.com',
    'https://api.openai.com/auth': { chatgpt_account_id: 'acc-1', chatgpt_plan_type: 'plus' },
  }

  it('positive control: a hand-made token with an account id parses', () => {
    expect(parseIdTokenClaims(jwt(good)).chatgptAccountId).toBe('acc-1')
  })

  it.each([
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0'],
    [
      'a non-JSON payload',
      `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('not json').toString('base64url')}.c2ln`,
    ],
    ['a payload that is not base64url', 'eyJhbGciOiJSUzI1NiJ9.!!!.c2ln'],
    ['no account id', jwt({ email: 'a@example.com' })],
    ['claims of the wrong type', jwt({ ...good, exp: 'tomorrow' })],
  ])('%s → ERR_UPSTREAM_BAD_RESPONSE, token not in the message', (_name, token) => {
    const error = failure(() => parseIdTokenClaims(Secret.from(token)))
    expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
    expect(JSON.stringify(error)).not.toContain(token)
    expect((error as Error).message).not.toContain(token)
  })

  it('unknown plans are reported as unknown', () => {
    expect(planTypeOf('PRO')).toBe('pro')
    expect(planTypeOf('platinum')).toBe('unknown')
    expect(planTypeOf(undefined)).toBe('unknown')
  })
})
