import { format, inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  EncryptionKey,
  decryptJson,
  encryptJson,
  encryptedEnvelopeSchema,
} from '../../src/store/encryption.js'

const context = { where: 'test record', removal: 'delete the test record' }
const value = { kind: 'apiKey', apiKey: 'sk-CANARYsecretvalue0000' }

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

function flip(text: string): string {
  const bytes = Buffer.from(text, 'base64url')
  bytes[0] = (bytes[0] ?? 0) ^ 1
  return bytes.toString('base64url')
}

describe('encryption', () => {
  it('round-trips a value; each write has a fresh IV and the plaintext is absent', () => {
    const key = EncryptionKey.generate()
    const one = encryptJson(key, value, 'account:a')
    const two = encryptJson(key, value, 'account:a')
    expect(encryptedEnvelopeSchema.parse(one)).toEqual(one)
    expect(one).toMatchObject({ v: 1, alg: 'A256GCM', kid: key.id })
    expect(Buffer.from(one.iv, 'base64url')).toHaveLength(12)
    expect(Buffer.from(one.tag, 'base64url')).toHaveLength(16)
    expect(one.iv).not.toBe(two.iv)
    expect(one.data).not.toBe(two.data)
    expect(JSON.stringify(one)).not.toContain('CANARY')
    expect(decryptJson(key, one, 'account:a', context)).toEqual(value)
  })

  it('a tampered ciphertext, tag or IV fails with ERR_CORRUPT_STORE', () => {
    const key = EncryptionKey.generate()
    const envelope = encryptJson(key, value, 'account:a')
    for (const field of ['data', 'tag', 'iv'] as const) {
      const error = thrown(() =>
        decryptJson(key, { ...envelope, [field]: flip(envelope[field]) }, 'account:a', context),
      )
      expect(isBrokerError(error, 'ERR_CORRUPT_STORE'), `${field}: ${String(error)}`).toBe(true)
      expect((error as Error).message).toContain('test record')
    }
  })

  it('a ciphertext moved to another record (other AAD) fails', () => {
    const key = EncryptionKey.generate()
    const envelope = encryptJson(key, value, 'account:a')
    const error = thrown(() => decryptJson(key, envelope, 'account:b', context))
    expect(isBrokerError(error, 'ERR_CORRUPT_STORE'), String(error)).toBe(true)
    expect((error as Error).message).toContain('copied from another account')
  })

  it('the wrong key gives ERR_WRONG_KEY with the advice', () => {
    const envelope = encryptJson(EncryptionKey.generate(), value, 'account:a')
    const error = thrown(() =>
      decryptJson(EncryptionKey.generate(), envelope, 'account:a', context),
    )
    expect(isBrokerError(error, 'ERR_WRONG_KEY'), String(error)).toBe(true)
    const message = (error as Error).message
    expect(message).toContain('does not match')
    expect(message).toContain('CODEX_BROKER_KEY')
    expect(message).toContain('delete the test record')
    expect(message).toContain('Nothing was changed')
  })

  it('a malformed envelope is ERR_CORRUPT_STORE', () => {
    const key = EncryptionKey.generate()
    for (const bad of [
      null,
      'text',
      { v: 2, alg: 'A256GCM' },
      { v: 1, alg: 'A256GCM', kid: key.id },
    ]) {
      const error = thrown(() => decryptJson(key, bad, 'account:a', context))
      expect(isBrokerError(error, 'ERR_CORRUPT_STORE'), String(error)).toBe(true)
    }
  })
})

describe('EncryptionKey', () => {
  it('parses 64 hex digits, base64 and base64url of 32 bytes into the same key', () => {
    const bytes = Buffer.alloc(32, 0xfb)
    const hex = EncryptionKey.parse(bytes.toString('hex'))
    const b64 = EncryptionKey.parse(` ${bytes.toString('base64')}\n`)
    const b64url = EncryptionKey.parse(bytes.toString('base64url'))
    expect(hex.equals(b64)).toBe(true)
    expect(hex.equals(b64url)).toBe(true)
    expect(hex.id).toBe(b64.id)
    expect(EncryptionKey.parse(hex.reveal()).equals(hex)).toBe(true)
    expect(hex.equals(EncryptionKey.generate())).toBe(false)
  })

  it('rejects anything else with ERR_INVALID_CONFIG, never echoing the value', () => {
    for (const bad of [
      '',
      'short-secret-value',
      'ab'.repeat(31),
      Buffer.alloc(16).toString('base64'),
      'z'.repeat(64),
    ]) {
      const error = thrown(() => EncryptionKey.parse(bad, 'CODEX_BROKER_KEY'))
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG'), String(error)).toBe(true)
      const message = (error as Error).message
      expect(message).toContain('CODEX_BROKER_KEY is not a valid encryption key')
      if (bad.length > 0) expect(message).not.toContain(bad)
    }
    expect(
      isBrokerError(
        thrown(() => EncryptionKey.fromBytes(new Uint8Array(31))),
        'ERR_INVALID_CONFIG',
      ),
    ).toBe(true)
  })

  it('never prints its bytes', () => {
    const key = EncryptionKey.generate()
    const raw = key.reveal()
    for (const printed of [
      String(key),
      format('%s %o', key, key),
      [key].join(','),
      JSON.stringify({ key }),
      inspect(key),
      inspect({ key }, { showHidden: true }),
    ]) {
      expect(printed).not.toContain(raw)
      expect(printed).toContain('[REDACTED]')
    }
    expect(Object.keys(key)).toEqual(['id'])
  })
})
