// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest'
import {
  allowedOrigin,
  DEFAULT_LOGIN_ORIGINS,
  validateLoginUrl,
} from '../../src/react/login-url.js'

describe('validateLoginUrl', () => {
  // Each refused address sits next to the closest address that is accepted, so a check that refuses everything
  // fails the table as surely as one that accepts everything.
  const pairs: [string, string | null, readonly string[]][] = [
    [
      'https://auth.openai.com/codex/device',
      'https://auth.openai.com/codex/device',
      DEFAULT_LOGIN_ORIGINS,
    ],
    ['javascript:alert(1)', null, DEFAULT_LOGIN_ORIGINS],
    ['JavaScript:alert(1)//https://auth.openai.com', null, DEFAULT_LOGIN_ORIGINS],
    ['data:text/html,<script>alert(1)</script>', null, DEFAULT_LOGIN_ORIGINS],
    [
      'https://AUTH.OpenAI.com/codex/device?x=1#y',
      'https://auth.openai.com/codex/device?x=1#y',
      DEFAULT_LOGIN_ORIGINS,
    ],
    ['http://auth.openai.com/codex/device', null, DEFAULT_LOGIN_ORIGINS],
    ['http://evil.example/', null, DEFAULT_LOGIN_ORIGINS],
    ['https://evil.example/', null, DEFAULT_LOGIN_ORIGINS],
    ['https://auth.openai.com.evil.com/', null, DEFAULT_LOGIN_ORIGINS],
    ['https://auth.openai.com./', null, DEFAULT_LOGIN_ORIGINS],
    ['https://evil.com/?https://auth.openai.com', null, DEFAULT_LOGIN_ORIGINS],
    ['https://auth.openai.com@evil.com/', null, DEFAULT_LOGIN_ORIGINS],
    ['https://user:pw@auth.openai.com/', null, DEFAULT_LOGIN_ORIGINS],
    ['https://auth.openai.com:443/x', 'https://auth.openai.com/x', DEFAULT_LOGIN_ORIGINS],
    ['https://auth.openai.com:8443/x', null, DEFAULT_LOGIN_ORIGINS],
    ['not a url', null, DEFAULT_LOGIN_ORIGINS],
    ['', null, DEFAULT_LOGIN_ORIGINS],
    ['/codex/device', null, DEFAULT_LOGIN_ORIGINS],
    [
      'http://127.0.0.1:8787/codex/device',
      'http://127.0.0.1:8787/codex/device',
      ['http://127.0.0.1:8787'],
    ],
    ['http://127.0.0.1:8787/codex/device', null, DEFAULT_LOGIN_ORIGINS],
    ['http://127.0.0.1:8788/codex/device', null, ['http://127.0.0.1:8787']],
    ['http://localhost:8787/x', 'http://localhost:8787/x', ['http://localhost:8787']],
    ['http://[::1]:8787/x', 'http://[::1]:8787/x', ['http://[::1]:8787']],
    ['http://intranet.example:8787/x', null, ['http://intranet.example:8787']],
    ['https://login.example.com/x', 'https://login.example.com/x', ['https://login.example.com']],
  ]

  it.each(pairs)('%s → %s', (candidate, expected, origins) => {
    expect(validateLoginUrl(candidate, origins)).toBe(expected)
  })

  it('refuses what is not a string', () => {
    expect(validateLoginUrl(undefined)).toBeNull()
    expect(validateLoginUrl(new URL('https://auth.openai.com/'))).toBeNull()
    expect(validateLoginUrl('https://auth.openai.com/')).toBe('https://auth.openai.com/')
  })

  it('refuses everything with an empty list', () => {
    expect(validateLoginUrl('https://auth.openai.com/', [])).toBeNull()
  })
})

describe('allowedOrigin', () => {
  it('normalises https: and loopback http: entries and drops the rest', () => {
    expect(allowedOrigin('https://AUTH.openai.com/some/path')).toBe('https://auth.openai.com')
    expect(allowedOrigin('http://127.0.0.1:8787')).toBe('http://127.0.0.1:8787')
    expect(allowedOrigin('http://localhost:1')).toBe('http://localhost:1')
    expect(allowedOrigin('http://[::1]:2')).toBe('http://[::1]:2')
    expect(allowedOrigin('http://example.com')).toBeNull()
    expect(allowedOrigin('javascript:alert(1)')).toBeNull()
    expect(allowedOrigin('null')).toBeNull()
    expect(allowedOrigin('*')).toBeNull()
  })
})
