/**
 * The endpoint rule: `https:` anywhere, plain `http:` only on loopback, no credentials in the URL — checked by
 * every function that takes an issuer URL, before any request is sent.
 */
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  assertSafeEndpoint,
  buildAuthorizeUrl,
  CODEX_CLIENT_ID,
  exchangeAuthorizationCode,
  issuerBase,
  isLoopbackHostname,
  loginWithDeviceCode,
  refreshTokens,
  requestDeviceCode,
  revokeRefreshToken,
} from '../../src/oauth/index.js'
import { Secret } from '../../src/lib/index.js'
import { rejectionOf } from './support.js'

describe('assertSafeEndpoint', () => {
  it.each([
    'https://auth.openai.com',
    'https://auth.example.com:8443/base',
    'http://127.0.0.1:8787',
    'http://127.5.6.7',
    'http://localhost:3000',
    'http://LOCALHOST:3000',
    'http://[::1]:8787',
  ])('accepts %s (positive control)', (url) => {
    expect(assertSafeEndpoint(url, 'issuer')).toBeInstanceOf(URL)
  })

  it.each([
    'http://auth.openai.com',
    'http://10.0.0.1:8787',
    'http://0.0.0.0:8787',
    'http://128.0.0.1',
    'http://localhost.evil.example',
    'http://127.0.0.1.nip.io',
    'http://[::ffff:7f00:1]',
    'http://[::2]',
  ])('refuses plain http on a non-loopback host: %s', (url) => {
    let caught: unknown
    try {
      assertSafeEndpoint(url, 'issuer')
    } catch (error) {
      caught = error
    }
    expect(isBrokerError(caught, 'ERR_INVALID_CONFIG')).toBe(true)
    expect((caught as Error).message).toMatch(/issuer URL .* plain http/)
  })

  it.each([
    'ftp://127.0.0.1',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'not a url',
    '/relative',
  ])('refuses %s', (url) => {
    expect(() => assertSafeEndpoint(url, 'issuer')).toThrow(/issuer URL/)
  })

  it('refuses credentials in the URL, accepts the same URL without them', () => {
    expect(() => assertSafeEndpoint('https://user:pw@auth.openai.com', 'issuer')).toThrow(
      /user name or password/,
    )
    expect(assertSafeEndpoint('https://auth.openai.com', 'issuer').host).toBe('auth.openai.com')
  })

  it('names what it checked', () => {
    expect(() => assertSafeEndpoint('http://example.com', 'backend')).toThrow(/backend URL/)
  })
})

describe('isLoopbackHostname', () => {
  it('knows 127.0.0.0/8, ::1 and localhost only', () => {
    expect(['127.0.0.1', '127.255.255.254', '[::1]', 'localhost'].map(isLoopbackHostname)).toEqual([
      true,
      true,
      true,
      true,
    ])
    expect(
      ['128.0.0.1', '0.0.0.0', '[::]', 'localhost.', 'example.com'].map(isLoopbackHostname),
    ).toEqual([false, false, false, false, false])
  })
})

describe('issuerBase', () => {
  it('drops trailing slashes and keeps a path prefix', () => {
    expect(issuerBase('http://127.0.0.1:8787/')).toBe('http://127.0.0.1:8787')
    expect(issuerBase('https://auth.example.com/tenant/')).toBe('https://auth.example.com/tenant')
  })

  it('refuses a query or fragment', () => {
    expect(() => issuerBase('https://auth.openai.com/?x=1')).toThrow(/query or a fragment/)
  })
})

describe('every function taking an issuer checks it before sending anything', () => {
  const unsafe = { issuer: 'http://auth.example.com', clientId: CODEX_CLIENT_ID }
  let calls = 0
  const counting: typeof fetch = () => {
    calls += 1
    return Promise.resolve(new Response('{}'))
  }
  const config = { ...unsafe, fetch: counting }

  it.each([
    [
      'buildAuthorizeUrl',
      () =>
        Promise.resolve().then(() =>
          buildAuthorizeUrl(config, { redirectUri: 'x', codeChallenge: 'c', state: 's' }),
        ),
    ],
    [
      'exchangeAuthorizationCode',
      () => exchangeAuthorizationCode(config, { code: 'c', redirectUri: 'r', codeVerifier: 'v' }),
    ],
    ['refreshTokens', () => refreshTokens(config, Secret.from('rt'), 'forced')],
    ['revokeRefreshToken', () => revokeRefreshToken(config, Secret.from('rt'))],
    ['requestDeviceCode', () => requestDeviceCode(config)],
    ['loginWithDeviceCode', () => loginWithDeviceCode({ config, onCode: () => undefined })],
  ] as const)('%s', async (_name, call) => {
    const before = calls
    const error = await rejectionOf(call())
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    expect(calls).toBe(before)
  })

  it('positive control: a loopback http issuer reaches fetch', async () => {
    const before = calls
    await rejectionOf(
      refreshTokens({ ...config, issuer: 'http://127.0.0.1:9' }, Secret.from('rt'), 'forced'),
    )
    expect(calls).toBe(before + 1)
  })
})
