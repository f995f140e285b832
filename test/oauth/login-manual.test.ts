/**
 * The paste fallback: `parseRedirectUrl` takes only this sign-in's redirect (same origin and path, one matching
 * state, no error, one code), never echoes the pasted address, and `loginManually` completes against the
 * simulator, re-asking after a refused paste.
 */
import { describe, expect, it } from 'vitest'
import { type BrokerError, type BrokerErrorCode, isBrokerError } from '../../src/lib/index.js'
import { loginManually, parseRedirectUrl } from '../../src/oauth/index.js'
import { useSimulator } from '../support/sim.js'
import { authorizeRedirect, issuerOf, rejectionOf } from './support.js'

const REDIRECT = 'http://127.0.0.1:1455/auth/callback'
const STATE = 'state_0123456789abcdefghijklmnopqrstuvwxyzABC'
const CODE = 'ac_0123456789abcdefghijklmnopqrstuvwxyz'

function failure(call: () => unknown): BrokerError {
  try {
    call()
  } catch (error) {
    return error as BrokerError
  }
  throw new Error('expected a throw')
}

const options = { expectedState: STATE, redirectUri: REDIRECT }

describe('parseRedirectUrl', () => {
  it('reads the code of a good paste, trimming whitespace (positive control)', () => {
    const pasted = `  \t${REDIRECT}?code=${CODE}&scope=openid&state=${STATE}\n`
    expect(parseRedirectUrl(pasted, options).reveal()).toBe(CODE)
  })

  it.each([
    ['a wrong state', `${REDIRECT}?code=${CODE}&state=other`, 'ERR_STATE_MISMATCH'],
    ['no state', `${REDIRECT}?code=${CODE}`, 'ERR_STATE_MISMATCH'],
    ['two states', `${REDIRECT}?code=${CODE}&state=${STATE}&state=${STATE}`, 'ERR_STATE_MISMATCH'],
    [
      'a prefix of the state',
      `${REDIRECT}?code=${CODE}&state=${STATE.slice(0, 10)}`,
      'ERR_STATE_MISMATCH',
    ],
    [
      'a foreign origin',
      `https://evil.example/auth/callback?code=${CODE}&state=${STATE}`,
      'ERR_INVALID_REQUEST',
    ],
    [
      'another port',
      `http://127.0.0.1:1457/auth/callback?code=${CODE}&state=${STATE}`,
      'ERR_INVALID_REQUEST',
    ],
    [
      'localhost instead of 127.0.0.1',
      `http://localhost:1455/auth/callback?code=${CODE}&state=${STATE}`,
      'ERR_INVALID_REQUEST',
    ],
    [
      'another path',
      `http://127.0.0.1:1455/success?code=${CODE}&state=${STATE}`,
      'ERR_INVALID_REQUEST',
    ],
    ['no code', `${REDIRECT}?state=${STATE}`, 'ERR_INVALID_REQUEST'],
    ['two codes', `${REDIRECT}?code=${CODE}&code=x&state=${STATE}`, 'ERR_INVALID_REQUEST'],
    ['just the code', CODE, 'ERR_INVALID_REQUEST'],
    ['nothing', '   ', 'ERR_INVALID_REQUEST'],
  ] as [string, string, BrokerErrorCode][])('refuses %s', (_name, pasted, code) => {
    const error = failure(() => parseRedirectUrl(pasted, options))
    expect(isBrokerError(error, code)).toBe(true)
    expect(`${error.message} ${error.hint ?? ''}`).not.toContain(CODE)
  })

  it('an error redirect is reported with its meaning', () => {
    const entitlement = failure(() =>
      parseRedirectUrl(
        `${REDIRECT}?error=access_denied&error_description=missing_codex_entitlement&state=${STATE}`,
        options,
      ),
    )
    expect(isBrokerError(entitlement, 'ERR_FORBIDDEN')).toBe(true)
    expect(entitlement.message).toBe('Codex is not enabled for your workspace.')
    const denied = failure(() =>
      parseRedirectUrl(`${REDIRECT}?error=access_denied&state=${STATE}`, options),
    )
    expect(isBrokerError(denied, 'ERR_LOGIN_CANCELLED')).toBe(true)
  })

  it('an error redirect with a wrong state is a state mismatch', () => {
    const error = failure(() =>
      parseRedirectUrl(`${REDIRECT}?error=access_denied&state=x`, options),
    )
    expect(isBrokerError(error, 'ERR_STATE_MISMATCH')).toBe(true)
  })
})

describe('loginManually against the simulator', () => {
  it('prints the URL, re-asks after a bad paste, exchanges and persists', async () => {
    const email = 'manual@example.com'
    const sim = await useSimulator({ accounts: [{ email }], config: { autoApprove: email } })
    let redirect: URL | undefined
    const lines: string[] = []
    const refused: string[] = []
    let persisted = 0
    const result = await loginManually({
      config: issuerOf(sim),
      onAuthorizeUrl: async (url) => {
        expect(new URL(url).searchParams.get('redirect_uri')).toBe(REDIRECT)
        redirect = await authorizeRedirect(url)
        const wrongState = new URL(redirect.href)
        wrongState.searchParams.set('state', 'stale')
        lines.push(wrongState.href, `  ${redirect.href}  `)
      },
      readLine: () => Promise.resolve(lines.shift() ?? ''),
      onInvalidPaste: (error) => refused.push(error.code),
      persist: () => {
        persisted += 1
        return Promise.resolve()
      },
    })
    expect(refused).toEqual(['ERR_STATE_MISMATCH'])
    expect(persisted).toBe(1)
    expect(result.claims.email).toBe(email)
    expect(sim.control.issued()).toContain(result.tokens.accessToken.reveal())
    expect(redirect?.origin).toBe('http://127.0.0.1:1455')
  })

  it('gives up after maxAttempts refused pastes, without a token call', async () => {
    const sim = await useSimulator()
    const error = await rejectionOf(
      loginManually({
        config: issuerOf(sim),
        onAuthorizeUrl: () => undefined,
        readLine: () => Promise.resolve('nonsense'),
        persist: () => Promise.resolve(),
        maxAttempts: 2,
      }),
    )
    expect(isBrokerError(error, 'ERR_INVALID_REQUEST')).toBe(true)
    expect(sim.control.counters().tokenCalls).toBe(0)
  })

  it('an abort while waiting for the paste cancels', async () => {
    const sim = await useSimulator()
    const controller = new AbortController()
    const error = await rejectionOf(
      loginManually({
        config: issuerOf(sim),
        onAuthorizeUrl: () => {
          controller.abort()
        },
        readLine: () => new Promise<string>(() => undefined),
        persist: () => Promise.resolve(),
        signal: controller.signal,
      }),
    )
    expect(isBrokerError(error, 'ERR_LOGIN_CANCELLED')).toBe(true)
  })
})
