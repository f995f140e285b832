import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { safeEqual, sha256Hex } from '../../src/lib/safe-equal.js'
import { Secret } from '../../src/lib/secret.js'

describe('safeEqual', () => {
  it('is true for equal strings and false for different ones of the same length', () => {
    expect(safeEqual('correct horse battery', 'correct horse battery')).toBe(true)
    expect(safeEqual('correct horse battery', 'correct horse batterz')).toBe(false)
    expect(safeEqual('Xorrect horse battery', 'correct horse battery')).toBe(false)
  })

  it('is false, without throwing, for different lengths (including empty)', () => {
    expect(() => safeEqual('short', 'a much longer candidate value')).not.toThrow()
    expect(safeEqual('short', 'a much longer candidate value')).toBe(false)
    expect(safeEqual('prefix', 'prefix-and-more')).toBe(false)
    expect(safeEqual('', 'x')).toBe(false)
    expect(safeEqual('', '')).toBe(true)
  })

  it('accepts strings, bytes and Secrets interchangeably (UTF-8)', () => {
    const token = 'tök-3n-✓'
    expect(safeEqual(Buffer.from(token, 'utf8'), token)).toBe(true)
    expect(safeEqual(new Uint8Array(Buffer.from(token, 'utf8')), Secret.from(token))).toBe(true)
    expect(safeEqual(Secret.from(token), Secret.from(`${token}!`))).toBe(false)
  })
})

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector and node:crypto', () => {
    expect(sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    const value = 'any value'
    expect(sha256Hex(Secret.from(value))).toBe(createHash('sha256').update(value).digest('hex'))
  })
})
