import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { REDACTED } from '../../src/lib/redact-text.js'
import { redactValue } from '../../src/lib/redact-value.js'
import { Secret } from '../../src/lib/secret.js'
import { isSecretKey } from '../../src/lib/secret-keys.js'

const canary = () => `CANARY_RT_${randomBytes(16).toString('hex')}`

describe('isSecretKey', () => {
  it('matches the allowlist in every spelling', () => {
    for (const key of [
      'token',
      'accessToken',
      'access_token',
      'refresh_token',
      'id_token',
      'Authorization',
      'cookie',
      'set-cookie',
      'clientSecret',
      'password',
      'apiKey',
      'api_key',
      'X-Api-Key',
      'code_verifier',
      'refresh',
      'x-proxy-token',
      'device_code',
    ]) {
      expect(isSecretKey(key), key).toBe(true)
    }
  })

  it('does not match ordinary names or addresses', () => {
    for (const key of [
      'email',
      'plan',
      'headers',
      'lastRefresh',
      'model',
      'code',
      'tokenUrl',
      'authorization_endpoint',
      'redirect_uri',
      'accountId',
    ]) {
      expect(isSecretKey(key), key).toBe(false)
    }
  })
})

describe('redactValue', () => {
  it('replaces secret-keyed values wholesale and keeps harmless fields', () => {
    const value = canary()
    const input = {
      user: 'ann@example.com',
      token: value,
      auth: { kind: 'chatgpt', refreshToken: value, tokens: { access: value } },
      headers: { authorization: `Bearer ${value}`, accept: 'application/json' },
    }
    expect(redactValue(input)).toEqual({
      user: 'ann@example.com',
      token: REDACTED,
      auth: { kind: 'chatgpt', refreshToken: REDACTED, tokens: REDACTED },
      headers: { authorization: REDACTED, accept: 'application/json' },
    })
    expect(input.token).toBe(value)
  })

  it('keeps numbers, booleans and null under secret-looking keys (usage counts)', () => {
    expect(redactValue({ usage: { input_tokens: 12, output_tokens: 0 }, token: null })).toEqual({
      usage: { input_tokens: 12, output_tokens: 0 },
      token: null,
    })
  })

  it('scrubs token-shaped strings anywhere, including arrays, Maps, Sets and URLs', () => {
    const value = canary()
    const out = JSON.stringify(
      redactValue({
        list: [`x ${value}`],
        map: new Map([['note', value]]),
        set: new Set([value]),
        url: new URL(`https://example.com/cb?code=${value}`),
      }),
    )
    expect(out).not.toContain(value)
    expect(out).toContain('https://example.com/cb?code=[REDACTED]')
  })

  it('prints Secret values as [REDACTED] and summarises binary data', () => {
    const value = canary()
    expect(redactValue({ s: Secret.from(value), b: Buffer.from(value) })).toEqual({
      s: REDACTED,
      b: `[Binary: ${value.length} bytes]`,
    })
  })

  it('serializes errors through the allowlist, dropping headers and bodies', () => {
    const value = canary()
    const error = Object.assign(new Error(`upstream said ${value}`), {
      code: 'E_UPSTREAM',
      headers: { 'x-echo': value },
      response: { body: value },
    })
    const out = redactValue({ err: error }) as { err: Record<string, unknown> }
    expect(Object.keys(out.err).sort()).toEqual(['code', 'message', 'name', 'stack'])
    expect(out.err.code).toBe('E_UPSTREAM')
    expect(JSON.stringify(out)).not.toContain(value)
  })

  it('marks cycles and truncates deep nesting without throwing', () => {
    const cyclic: Record<string, unknown> = { name: 'root' }
    cyclic.self = cyclic
    expect(redactValue(cyclic)).toEqual({ name: 'root', self: '[Circular]' })
    let deep: Record<string, unknown> = { leaf: true }
    for (let i = 0; i < 20; i++) deep = { next: deep }
    expect(JSON.stringify(redactValue(deep, { maxDepth: 3 }))).toBe(
      '{"next":{"next":{"next":"[Truncated]"}}}',
    )
  })

  it('keeps shared (non-cyclic) references intact', () => {
    const shared = { n: 1 }
    expect(redactValue({ a: shared, b: shared })).toEqual({ a: { n: 1 }, b: { n: 1 } })
  })

  it('uses toJSON like JSON.stringify would, and survives throwing getters', () => {
    const value = canary()
    const withToJSON = { toJSON: () => ({ note: value, ok: 1 }) }
    expect(redactValue(withToJSON)).toEqual({ note: REDACTED, ok: 1 })
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('nope')
      },
    })
    expect(redactValue(hostile)).toEqual({ boom: '[Unreadable]' })
  })
})
