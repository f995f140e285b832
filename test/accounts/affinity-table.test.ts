import { describe, expect, it } from 'vitest'
import { AffinityTable, MAX_AFFINITY_KEY_LENGTH } from '../../src/accounts/affinity-table.js'

const T0 = Date.parse('2025-06-01T12:00:00Z')

describe('AffinityTable', () => {
  it('finds the account a session, cache key or response id went to', () => {
    const table = new AffinityTable()
    table.remember({ sessionId: 's1' }, 'acc_a', T0)
    table.remember({ promptCacheKey: 'k1' }, 'acc_b', T0)
    table.remember({ previousResponseId: 'resp_1' }, 'acc_c', T0)
    expect(table.lookup({ sessionId: 's1' }, T0)).toBe('acc_a')
    expect(table.lookup({ promptCacheKey: 'k1' }, T0)).toBe('acc_b')
    expect(table.lookup({ previousResponseId: 'resp_1' }, T0)).toBe('acc_c')
    expect(table.lookup({ sessionId: 'other' }, T0)).toBeNull()
    expect(table.lookup({}, T0)).toBeNull()
    expect(table.size).toBe(3)
  })

  it('keeps the kinds apart: the same string as a session and as a cache key are two keys', () => {
    const table = new AffinityTable()
    table.remember({ sessionId: 'x' }, 'acc_a', T0)
    expect(table.lookup({ promptCacheKey: 'x' }, T0)).toBeNull()
    expect(table.lookup({ previousResponseId: 'x' }, T0)).toBeNull()
    table.remember({ promptCacheKey: 'x' }, 'acc_b', T0)
    expect(table.lookup({ sessionId: 'x' }, T0)).toBe('acc_a')
    expect(table.lookup({ promptCacheKey: 'x' }, T0)).toBe('acc_b')
  })

  it('looks up the response id first, then the session, then the cache key', () => {
    const table = new AffinityTable()
    table.remember({ previousResponseId: 'r' }, 'by-response', T0)
    table.remember({ sessionId: 's' }, 'by-session', T0)
    table.remember({ promptCacheKey: 'c' }, 'by-cache', T0)
    expect(table.lookup({ previousResponseId: 'r', sessionId: 's', promptCacheKey: 'c' }, T0)).toBe(
      'by-response',
    )
    expect(
      table.lookup({ previousResponseId: 'new', sessionId: 's', promptCacheKey: 'c' }, T0),
    ).toBe('by-session')
    expect(
      table.lookup({ previousResponseId: null, sessionId: 'new', promptCacheKey: 'c' }, T0),
    ).toBe('by-cache')
  })

  it('remembers every hint of a request, replacing older mappings', () => {
    const table = new AffinityTable()
    table.remember({ sessionId: 's', promptCacheKey: 'c', previousResponseId: 'r' }, 'acc_a', T0)
    expect(table.size).toBe(3)
    table.remember({ sessionId: 's' }, 'acc_b', T0)
    expect(table.lookup({ sessionId: 's' }, T0)).toBe('acc_b')
    expect(table.lookup({ promptCacheKey: 'c' }, T0)).toBe('acc_a')
    expect(table.size).toBe(3)
  })

  it('ignores empty, null and missing values', () => {
    const table = new AffinityTable()
    table.remember({ sessionId: '', promptCacheKey: null }, 'acc_a', T0)
    expect(table.size).toBe(0)
    table.remember({ sessionId: 's' }, 'acc_a', T0)
    expect(table.lookup({ sessionId: '', promptCacheKey: null }, T0)).toBeNull()
  })

  it('does not remember a value longer than 512 characters (512 is fine)', () => {
    expect(MAX_AFFINITY_KEY_LENGTH).toBe(512)
    const table = new AffinityTable()
    const longest = 'x'.repeat(512)
    const tooLong = 'y'.repeat(513)
    table.remember({ sessionId: longest, promptCacheKey: tooLong }, 'acc_a', T0)
    expect(table.size).toBe(1)
    expect(table.lookup({ sessionId: longest }, T0)).toBe('acc_a')
    expect(table.lookup({ promptCacheKey: tooLong }, T0)).toBeNull()
  })

  it('forgets an entry once its TTL has passed since its last use (ttl − 1 found, ttl gone)', () => {
    const table = new AffinityTable({ ttlMs: 1000 })
    table.remember({ sessionId: 's' }, 'acc_a', T0)
    expect(table.lookup({ sessionId: 's' }, T0 + 999)).toBe('acc_a')
    // The hit at T0 + 999 restarted the clock.
    expect(table.lookup({ sessionId: 's' }, T0 + 1998)).toBe('acc_a')
    expect(table.lookup({ sessionId: 's' }, T0 + 2998)).toBeNull()
    expect(table.size).toBe(0)
  })

  it('drops an expired entry on lookup and falls through to the next hint', () => {
    const table = new AffinityTable({ ttlMs: 1000 })
    table.remember({ previousResponseId: 'r' }, 'old', T0)
    table.remember({ sessionId: 's' }, 'fresh', T0 + 500)
    expect(table.lookup({ previousResponseId: 'r', sessionId: 's' }, T0 + 1000)).toBe('fresh')
    expect(table.size).toBe(1)
  })

  it('drops expired entries when remembering new ones', () => {
    const table = new AffinityTable({ ttlMs: 1000 })
    table.remember({ sessionId: 'a' }, 'acc_a', T0)
    table.remember({ sessionId: 'b' }, 'acc_a', T0 + 1)
    table.remember({ sessionId: 'c' }, 'acc_a', T0 + 1000)
    expect(table.size).toBe(2)
    table.remember({ sessionId: 'd' }, 'acc_a', T0 + 1001)
    expect(table.size).toBe(2)
    expect(table.lookup({ sessionId: 'c' }, T0 + 1001)).toBe('acc_a')
  })

  it('evicts the least recently used beyond maxEntries; a hit counts as a use', () => {
    const table = new AffinityTable({ maxEntries: 3 })
    table.remember({ sessionId: '1' }, 'acc_a', T0)
    table.remember({ sessionId: '2' }, 'acc_a', T0)
    table.remember({ sessionId: '3' }, 'acc_a', T0)
    expect(table.lookup({ sessionId: '1' }, T0)).toBe('acc_a')
    table.remember({ sessionId: '4' }, 'acc_a', T0)
    expect(table.size).toBe(3)
    expect(table.lookup({ sessionId: '2' }, T0)).toBeNull()
    expect(table.lookup({ sessionId: '1' }, T0)).toBe('acc_a')
    expect(table.lookup({ sessionId: '3' }, T0)).toBe('acc_a')
    expect(table.lookup({ sessionId: '4' }, T0)).toBe('acc_a')
  })

  it('stays bounded under a flood of distinct keys', () => {
    const table = new AffinityTable({ maxEntries: 100 })
    for (let i = 0; i < 10_000; i++) {
      table.remember({ sessionId: `s${i}`, promptCacheKey: `c${i}` }, 'acc_a', T0 + i)
    }
    expect(table.size).toBe(100)
    expect(table.lookup({ sessionId: 's9999' }, T0 + 10_000)).toBe('acc_a')
    expect(table.lookup({ sessionId: 's9950' }, T0 + 10_000)).toBe('acc_a')
    expect(table.lookup({ sessionId: 's9949' }, T0 + 10_000)).toBeNull()
  })

  it('uses the defaults: 10 000 entries, one hour', () => {
    const table = new AffinityTable()
    for (let i = 0; i < 10_001; i++) table.remember({ sessionId: `s${i}` }, 'acc_a', T0)
    expect(table.size).toBe(10_000)
    expect(table.lookup({ sessionId: 's10000' }, T0 + 3_599_999)).toBe('acc_a')
    expect(table.lookup({ sessionId: 's9999' }, T0 + 3_600_000)).toBeNull()
  })

  it('forgets every entry of one account', () => {
    const table = new AffinityTable()
    table.remember({ sessionId: 's', promptCacheKey: 'c' }, 'acc_a', T0)
    table.remember({ sessionId: 't' }, 'acc_b', T0)
    table.forget('acc_a')
    expect(table.size).toBe(1)
    expect(table.lookup({ sessionId: 's', promptCacheKey: 'c' }, T0)).toBeNull()
    expect(table.lookup({ sessionId: 't' }, T0)).toBe('acc_b')
    table.forget('acc_unknown')
    expect(table.size).toBe(1)
  })

  it('refuses nonsense options', () => {
    expect(() => new AffinityTable({ maxEntries: 0 })).toThrow(RangeError)
    expect(() => new AffinityTable({ maxEntries: 1.5 })).toThrow(RangeError)
    expect(() => new AffinityTable({ ttlMs: 0 })).toThrow(RangeError)
    expect(() => new AffinityTable({ ttlMs: Number.POSITIVE_INFINITY })).toThrow(RangeError)
  })
})
