import { describe, expect, it } from 'vitest'
import { BrokerError, Secret } from '../../src/lib/index.js'
import {
  cookieValue,
  newSessionId,
  SESSION_COOKIE_NAME,
  SessionCookieSigner,
} from '../../src/web/session-cookie.js'
import { COOKIE_SECRET, cookieOf, newSession, useWebHandler } from './web-fixture.js'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Every value with one bit of one base64url character of the MAC flipped (to another base64url character). */
function macBitFlips(value: string): string[] {
  const dot = value.indexOf('.')
  const flips: string[] = []
  for (let position = dot + 1; position < value.length; position += 1) {
    const index = B64URL.indexOf(value[position] ?? '')
    for (let bit = 0; bit < 6; bit += 1) {
      const flipped = B64URL[index ^ (1 << bit)] ?? ''
      flips.push(`${value.slice(0, position)}${flipped}${value.slice(position + 1)}`)
    }
  }
  return flips
}

describe('session cookie signing', () => {
  const signer = new SessionCookieSigner(Secret.from(COOKIE_SECRET))

  it('refuses a cookie secret under 32 bytes, accepts 32', () => {
    expect(() => new SessionCookieSigner(Secret.from('x'.repeat(31)))).toThrow(BrokerError)
    expect(() => new SessionCookieSigner(Secret.from('x'.repeat(31)))).toThrow(/at least 32 bytes/)
    expect(() => new SessionCookieSigner(Secret.from('x'.repeat(32)))).not.toThrow()
  })

  it('BR-02: every single-bit flip of the MAC is refused (positive control: the original passes)', () => {
    const id = newSessionId()
    const value = signer.sign(id)
    expect(signer.verify(value)).toBe(id)
    const flips = macBitFlips(value)
    expect(flips).toHaveLength(43 * 6)
    expect(flips.filter((flip) => signer.verify(flip) !== null)).toEqual([])
  })

  it('BR-03: 1–64 appended bytes are refused', () => {
    const value = signer.sign(newSessionId())
    for (let extra = 1; extra <= 64; extra += 1) {
      expect(signer.verify(`${value}${'A'.repeat(extra)}`)).toBeNull()
      expect(signer.verify(`${value}${'%00'.repeat(extra).slice(0, extra)}`)).toBeNull()
    }
  })

  it("BR-04: a truncated or stripped signature, and another session's signature, are refused", () => {
    const a = signer.sign(newSessionId())
    const b = signer.sign(newSessionId())
    const [idA] = a.split('.')
    const [, macB] = b.split('.')
    for (let cut = 1; cut <= 43; cut += 1) expect(signer.verify(a.slice(0, -cut))).toBeNull()
    expect(signer.verify(`${idA ?? ''}.`)).toBeNull()
    expect(signer.verify(idA ?? '')).toBeNull()
    expect(signer.verify(`${idA ?? ''}.${macB ?? ''}`)).toBeNull()
    const other = new SessionCookieSigner(Secret.from(`${COOKIE_SECRET}-other`))
    expect(other.verify(a)).toBeNull()
    expect(signer.verify(a)).toBe(idA)
  })

  it('BR-05: 10,000 session ids are distinct and carry 256 bits', () => {
    const ids = new Set<string>()
    for (let i = 0; i < 10_000; i += 1) ids.add(newSessionId())
    expect(ids.size).toBe(10_000)
    for (const id of [...ids].slice(0, 100)) {
      expect(Buffer.from(id, 'base64url')).toHaveLength(32)
    }
  })

  it('reads one cookie by exact name; a name sent twice reads as forged', () => {
    expect(cookieValue(`a=1; ${SESSION_COOKIE_NAME}=v; b=2`, SESSION_COOKIE_NAME)).toBe('v')
    expect(cookieValue(`x${SESSION_COOKIE_NAME}=v`, SESSION_COOKIE_NAME)).toBeNull()
    expect(cookieValue(null, SESSION_COOKIE_NAME)).toBeNull()
    expect(
      cookieValue(`${SESSION_COOKIE_NAME}=v; ${SESSION_COOKIE_NAME}=w`, SESSION_COOKIE_NAME),
    ).toBe('')
  })
})

describe('session cookie through the handler', () => {
  it('BR-01: every Set-Cookie is __Host-Http-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain', async () => {
    const fixture = await useWebHandler()
    const cookies: string[] = []
    const session = await fixture.call('/session', { body: {} })
    cookies.push(...session.headers.getSetCookie())
    const cookie = cookieOf(session)
    const logout = await fixture.call('/logout', { body: {}, cookie })
    cookies.push(...logout.headers.getSetCookie())
    const expired = await fixture.call('/status', { cookie })
    cookies.push(...expired.headers.getSetCookie())
    expect(cookies).toHaveLength(3)
    for (const setCookie of cookies) {
      const [pair = '', ...attributes] = setCookie.split(';').map((part) => part.trim())
      expect(pair.startsWith(`${SESSION_COOKIE_NAME}=`)).toBe(true)
      const names = attributes.map((attribute) => attribute.split('=')[0]?.toLowerCase())
      expect(names).toContain('secure')
      expect(names).toContain('httponly')
      expect(attributes).toContain('SameSite=Strict')
      expect(attributes).toContain('Path=/')
      expect(names).not.toContain('domain')
    }
  })

  it('BR-02 through the handler: a flipped MAC is 401 and never a session (control: the cookie works)', async () => {
    const fixture = await useWebHandler()
    const cookie = await newSession(fixture)
    expect((await fixture.call('/status', { cookie })).status).toBe(200)
    const [name = '', value = ''] = cookie.split('=')
    const flips = macBitFlips(value)
    const statuses = await Promise.all(
      flips.map(
        async (flip) => (await fixture.call('/status', { cookie: `${name}=${flip}` })).status,
      ),
    )
    expect(new Set(statuses)).toEqual(new Set([401]))
  })

  it('insecureLocalhostCookie drops Secure and the prefix, and warns', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning.message)
    }
    process.on('warning', onWarning)
    try {
      const fixture = await useWebHandler({ insecureLocalhostCookie: true })
      const [setCookie = ''] = (await fixture.call('/session', { body: {} })).headers.getSetCookie()
      expect(setCookie.startsWith('codex-broker-dev-session=')).toBe(true)
      expect(setCookie).not.toMatch(/Secure/i)
      expect(setCookie).toContain('HttpOnly')
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings.join('\n')).toContain('insecureLocalhostCookie')
    } finally {
      process.off('warning', onWarning)
    }
  })
})
