/** The failed-authentication throttle (SECURITY.md WS-11) with a frozen clock. */
import { describe, expect, it } from 'vitest'
import { AuthThrottle } from '../../src/app-server/server/auth-throttle.js'

describe('AuthThrottle', () => {
  it('allows maxFailures 401s per window, then 429 with Retry-After, then recovers', () => {
    let now = 1_000_000
    const throttle = new AuthThrottle({ maxFailures: 3, windowMs: 10_000, now: () => now })
    expect([1, 2, 3].map(() => throttle.recordFailure('a'))).toEqual([null, null, null])
    expect(throttle.recordFailure('a')).toBe(10)
    expect(throttle.recordFailure('b')).toBeNull()
    now += 10_001
    expect(throttle.recordFailure('a')).toBeNull()
  })

  it('keeps at most maxAddresses addresses', () => {
    const throttle = new AuthThrottle({ maxFailures: 1, windowMs: 10_000, maxAddresses: 100 })
    for (let index = 0; index < 1_000; index += 1) throttle.recordFailure(`10.0.0.${String(index)}`)
    expect(throttle.size).toBe(100)
  })
})
