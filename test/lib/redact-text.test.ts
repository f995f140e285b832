import { randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { REDACTED, redactText } from '../../src/lib/redact-text.js'
import { Secret } from '../../src/lib/secret.js'

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function realShapedJwt(): string {
  const header = b64url({ alg: 'RS256', kid: 'sim-key-1', typ: 'JWT' })
  const payload = b64url({
    iss: 'https://auth.openai.com',
    aud: ['https://api.openai.com/v1'],
    sub: 'auth0|abc123',
    exp: 1_900_000_000,
    'https://api.openai.com/auth': { chatgpt_account_id: randomUUID(), chatgpt_plan_type: 'plus' },
  })
  return `${header}.${payload}.${randomBytes(256).toString('base64url')}`
}

describe('redactText: token shapes are removed', () => {
  it('redacts a real-shaped RS256 JWT and each of its segments', () => {
    const jwt = realShapedJwt()
    const out = redactText(`id_token was ${jwt} (expired)`)
    for (const segment of jwt.split('.')) expect(out).not.toContain(segment.slice(0, 20))
    expect(out).toBe(`id_token was ${REDACTED} (expired)`)
  })

  it('redacts a lone base64url JSON payload and an unsigned JWT', () => {
    const payload = b64url({ sub: 'user', email: 'a@example.com' })
    expect(redactText(`payload ${payload}`)).toBe(`payload ${REDACTED}`)
    const unsigned = `${b64url({ alg: 'none' })}.${b64url({ sub: 'x' })}.`
    expect(redactText(unsigned)).not.toContain(b64url({ sub: 'x' }))
  })

  it('redacts sk- keys, including sk-proj- and sk-svcacct-', () => {
    const keys = [
      `sk-${randomBytes(24).toString('hex')}`,
      `sk-proj-${randomBytes(40).toString('base64url')}`,
      `sk-svcacct-${randomBytes(30).toString('base64url')}`,
      'sk-abcdefghijklmnopqrstuvwx',
    ]
    for (const key of keys) {
      expect(redactText(`OPENAI_API_KEY=${key}`)).not.toContain(key)
      expect(redactText(`key "${key}" rejected`)).toBe(`key "${REDACTED}" rejected`)
    }
  })

  it('redacts the value after Bearer, keeping the scheme word', () => {
    expect(redactText('Authorization header: Bearer abc.DEF-123_x~+/=')).toBe(
      `Authorization header: Bearer ${REDACTED}`,
    )
    expect(redactText('got bearer short1 back')).toBe(`got bearer ${REDACTED} back`)
  })

  it('redacts header lines for authorization, cookies and API keys', () => {
    const text = 'Cookie: sid=abc; theme=dark\nX-Api-Key: k1\nAccept: */*'
    expect(redactText(text)).toBe(`Cookie: ${REDACTED}\nX-Api-Key: ${REDACTED}\nAccept: */*`)
    expect(redactText('Authorization: Basic dXNlcjpwYXNz')).toBe(`Authorization: ${REDACTED}`)
  })

  it('redacts secret-named JSON members but keeps numbers and other members', () => {
    const body =
      '{"access_token":"at-1","refresh_token": "rt-2","expires_in":3600,"token_type":"x"}'
    expect(redactText(body)).toBe(
      `{"access_token":"${REDACTED}","refresh_token": "${REDACTED}","expires_in":3600,"token_type":"${REDACTED}"}`,
    )
    expect(redactText('{"usage":{"input_tokens":12}}')).toBe('{"usage":{"input_tokens":12}}')
  })

  it('redacts secret query and form parameters, and the OAuth code, keeping the rest', () => {
    expect(redactText('http://localhost:1455/auth/callback?code=ac_123&state=xyz')).toBe(
      `http://localhost:1455/auth/callback?code=${REDACTED}&state=xyz`,
    )
    expect(redactText('grant_type=refresh_token&refresh_token=rt_abc&client_id=app_1')).toBe(
      `grant_type=refresh_token&refresh_token=${REDACTED}&client_id=app_1`,
    )
    expect(redactText('/success#id_token=abc&x=1')).toBe(`/success#id_token=${REDACTED}&x=1`)
  })

  it('redacts long opaque base64url and hex runs and canary-shaped strings', () => {
    const b64 = randomBytes(32).toString('base64url')
    const hex = randomBytes(32).toString('hex')
    const canary = `CANARY_AT_${randomBytes(16).toString('hex')}`
    const out = redactText(`a ${b64} b ${hex} c ${canary} d`)
    expect(out).toBe(`a ${REDACTED} b ${REDACTED} c ${REDACTED} d`)
  })

  it('redacts known secret values and their encodings, even short ones', () => {
    const value = 'hunter2-pw'
    const out = redactText(
      [
        value,
        Buffer.from(value).toString('base64'),
        encodeURIComponent('a b/c?hunter2-pw'),
        Buffer.from(`Bearer ${value}`).toString('base64'),
      ].join(' | '),
      { knownSecrets: [Secret.from(value), 'a b/c?hunter2-pw'] },
    )
    expect(out).not.toContain(value)
    expect(out).not.toContain(Buffer.from(value).toString('base64'))
    expect(out).not.toContain(encodeURIComponent('a b/c?hunter2-pw'))
  })

  it('ignores known secrets shorter than 8 characters', () => {
    expect(redactText('a cat sat', { knownSecrets: ['a'] })).toBe('a cat sat')
  })

  it('is idempotent', () => {
    const input = `Bearer x ${realShapedJwt()} Cookie: a=b ?code=1 {"token":"t"}`
    const once = redactText(input)
    expect(redactText(once)).toBe(once)
  })
})

describe('redactText: positive controls are kept', () => {
  const keep = [
    'The quick brown fox jumps over the lazy dog.',
    'Refreshing account work@example.com (plan: plus) failed after 3 attempts',
    'request 3f2b8a4e-9c1d-4e5f-8a7b-1c2d3e4f5a6b completed in 182ms',
    `ids ${randomUUID()} and req-${randomUUID()} and ${randomUUID()}_${randomUUID()}`,
    'account acct_123, response resp_abc123, user user-42, id app_EMoamEEZ73f0CkXaXp7hrann',
    'https://chatgpt.com/backend-api/codex/responses?model=gpt-5-codex&stream=true',
    'http://127.0.0.1:8080/v1/models and https://auth.openai.com/oauth/authorize?client_id=app_x&state=abc',
    'codex-broker-integration-test-account-2024 ran at 2025-01-01T12:00:00.000Z',
    '/usr/lib/node_modules/codex-broker/dist/cli/main.js:120:15',
    'CONSTANT_CASE_NAME_WITH_VERSION_12345678 and camelCaseIdentifierWithoutDigitsAtAll',
    'exit code=1 and count=42',
    'the token expired; run codex-broker login',
  ]
  for (const text of keep) {
    it(`keeps: ${text.slice(0, 60)}`, () => {
      expect(redactText(text)).toBe(text)
    })
  }
})
