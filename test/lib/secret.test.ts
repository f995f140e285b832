import { randomBytes } from 'node:crypto'
import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { format, inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/secret.js'

const canary = () => `CANARY_SECRET_${randomBytes(12).toString('hex')}`

function expectRedacted(output: string, value: string): void {
  expect(output).not.toContain(value)
  expect(output).toContain('[REDACTED]')
}

describe('Secret', () => {
  it('reveal() returns the wrapped value', () => {
    const value = canary()
    expect(Secret.from(value).reveal()).toBe(value)
  })

  it('String(), template literals and concatenation print [REDACTED]', () => {
    const value = canary()
    const secret = Secret.from(value)
    expect(String(secret)).toBe('[REDACTED]')
    // The lint rules below flag these on purpose in src; the test checks the runtime net anyway.
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
    expect(`token=${secret}`).toBe('token=[REDACTED]')
    // eslint-disable-next-line @typescript-eslint/restrict-plus-operands
    expect('token=' + secret).toBe('token=[REDACTED]')
    expect(secret.toString()).toBe('[REDACTED]')
  })

  it('JSON.stringify prints [REDACTED], bare and nested', () => {
    const value = canary()
    const secret = Secret.from(value)
    expect(JSON.stringify(secret)).toBe('"[REDACTED]"')
    const nested = JSON.stringify({ s: secret, list: [secret], deep: { deeper: { secret } } })
    expectRedacted(nested, value)
  })

  it('util.inspect prints [REDACTED], even with showHidden and deep nesting', () => {
    const value = canary()
    const secret = Secret.from(value)
    expect(inspect(secret)).toBe('[REDACTED]')
    expectRedacted(inspect(secret, { showHidden: true, depth: 10 }), value)
    const nested = { a: { b: { c: [new Map([['k', secret]])] } } }
    expectRedacted(inspect(nested, { showHidden: true, depth: 10 }), value)
    expect(inspect(secret, { customInspect: false, showHidden: true })).not.toContain(value)
  })

  it('util.format with %s, %o, %O, %j and %d never shows the value', () => {
    const value = canary()
    const secret = Secret.from(value)
    for (const spec of ['%s', '%o', '%O', '%j']) {
      expectRedacted(format(spec, secret), value)
      expectRedacted(format(spec, { inner: secret }), value)
    }
    expect(format('%d', secret)).not.toContain(value)
  })

  it('console.log prints [REDACTED]', () => {
    const value = canary()
    let output = ''
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output += chunk.toString()
        callback()
      },
    })
    const console = new Console({ stdout: sink, stderr: sink })
    console.log(Secret.from(value))
    console.log({ auth: { token: Secret.from(value) } })
    console.error('failed:', Secret.from(value))
    expectRedacted(output, value)
  })

  it('errors built from a Secret do not carry the value', () => {
    const value = canary()
    const secret = Secret.from(value)
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
    const error = new Error(`refresh failed for ${secret}`, { cause: secret })
    expectRedacted(error.message, value)
    expectRedacted(error.stack ?? '', value)
    expectRedacted(inspect(error, { showHidden: true, depth: 10 }), value)
  })

  it('keeps the value out of keys, spreads, clones and property lists', () => {
    const value = canary()
    const secret = Secret.from(value)
    expect(Object.keys(secret)).toEqual([])
    expect(Object.getOwnPropertyNames(secret)).toEqual([])
    // eslint-disable-next-line @typescript-eslint/no-misused-spread
    expect(JSON.stringify({ ...secret })).toBe('{}')
    expect(JSON.stringify(structuredClone(secret))).not.toContain(value)
    expect(Object.isFrozen(secret)).toBe(true)
  })

  it('Secret.from returns an existing Secret unchanged and rejects non-strings', () => {
    const secret = Secret.from(canary())
    expect(Secret.from(secret)).toBe(secret)
    expect(() => Secret.from(42 as unknown as string)).toThrow(TypeError)
    expect(Secret.isSecret(secret)).toBe(true)
    expect(Secret.isSecret('plain')).toBe(false)
  })

  it('equals compares by value against secrets, strings and bytes', () => {
    const value = canary()
    const secret = Secret.from(value)
    expect(secret.equals(Secret.from(value))).toBe(true)
    expect(secret.equals(value)).toBe(true)
    expect(secret.equals(Buffer.from(value))).toBe(true)
    expect(secret.equals(`${value}x`)).toBe(false)
    expect(secret.equals('')).toBe(false)
  })
})
