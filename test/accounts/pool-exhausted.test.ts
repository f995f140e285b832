import { describe, expect, it } from 'vitest'
import { emptyHealth } from '../../src/accounts/health.js'
import {
  formatResetTime,
  PoolExhaustedError,
  poolExhaustedError,
} from '../../src/accounts/pool-exhausted.js'
import type { Candidate, Unusable } from '../../src/accounts/types.js'
import { BrokerError, isBrokerError, toPublicError } from '../../src/lib/errors.js'

const NOW = Date.parse('2025-06-01T13:30:00Z')
const AT_1405 = Date.parse('2025-06-01T14:05:00Z')
const AT_1402 = Date.parse('2025-06-01T14:02:00Z')
const AT_1600 = Date.parse('2025-06-01T16:00:00Z')

const limited = (until = AT_1405): Unusable => ({ kind: 'cooling', until, reason: 'usage_limit' })
const exhausted = (until = AT_1405): Unusable => ({
  kind: 'cooling',
  until,
  reason: 'quota_exhausted',
})
const paused = (until = AT_1402): Unusable => ({ kind: 'circuit_open', until })
const NEEDS_LOGIN: Unusable = { kind: 'needs_login' }
const DISABLED: Unusable = { kind: 'disabled' }
const PROBING: Unusable = { kind: 'probing' }
const WRONG_KIND: Unusable = { kind: 'wrong_kind' }

function candidates(...unusable: (Unusable | null)[]): Candidate[] {
  return unusable.map((reason, order) => ({
    accountId: `acc_${order + 1}`,
    order,
    health: emptyHealth(`acc_${order + 1}`, NOW),
    unusable: reason,
    lastPickedAt: null,
  }))
}

const pool = { strategy: 'sticky', pinned: null } as const

function error(list: Candidate[], options: Parameters<typeof poolExhaustedError>[2] = pool) {
  return poolExhaustedError(list, NOW, options)
}

describe('formatResetTime', () => {
  it('writes HH:MM UTC on the same UTC day, the date too otherwise', () => {
    expect(formatResetTime(AT_1405, NOW)).toBe('14:05 UTC')
    expect(formatResetTime(Date.parse('2025-06-01T23:59:00Z'), NOW)).toBe('23:59 UTC')
    expect(formatResetTime(Date.parse('2025-06-02T00:00:00Z'), NOW)).toBe('2025-06-02 00:00 UTC')
    expect(formatResetTime(Date.parse('2025-06-08T09:07:00Z'), NOW)).toBe('2025-06-08 09:07 UTC')
    expect(formatResetTime(Date.parse('2025-05-31T23:00:00Z'), NOW)).toBe('2025-05-31 23:00 UTC')
  })

  it('rounds up to the next minute, so the time shown is never too early', () => {
    expect(formatResetTime(AT_1405 - 59_999, NOW)).toBe('14:05 UTC')
    expect(formatResetTime(AT_1405 - 60_000, NOW)).toBe('14:04 UTC')
    expect(formatResetTime(AT_1405 + 1, NOW)).toBe('14:06 UTC')
    expect(formatResetTime(Date.parse('2025-06-01T23:59:30Z'), NOW)).toBe('2025-06-02 00:00 UTC')
  })
})

describe('PoolExhaustedError', () => {
  it('is a BrokerError with code ERR_POOL_EXHAUSTED, its own name, retryAt and rateLimited', () => {
    const err = new PoolExhaustedError('nothing usable', {
      retryAt: AT_1405,
      rateLimited: true,
      hint: 'wait',
    })
    expect(err).toBeInstanceOf(BrokerError)
    expect(isBrokerError(err, 'ERR_POOL_EXHAUSTED')).toBe(true)
    expect(err.name).toBe('PoolExhaustedError')
    expect(err.retryAt).toBe(AT_1405)
    expect(err.rateLimited).toBe(true)
    expect(err.hint).toBe('wait')
    expect(toPublicError(err)).toEqual({
      code: 'ERR_POOL_EXHAUSTED',
      message: 'nothing usable',
      hint: 'wait',
    })
  })

  it('answers 429 when rate-limited, 503 otherwise', () => {
    expect(new PoolExhaustedError('x', { retryAt: 1, rateLimited: true }).httpStatus).toBe(429)
    expect(new PoolExhaustedError('x', { retryAt: 1, rateLimited: false }).httpStatus).toBe(503)
  })

  it('gives Retry-After in whole seconds, at least 1, or null', () => {
    const at = (retryAt: number | null) =>
      new PoolExhaustedError('x', { retryAt, rateLimited: true }).retryAfterSeconds(NOW)
    expect(at(NOW + 125_000)).toBe(125)
    expect(at(NOW + 125_001)).toBe(126)
    expect(at(NOW + 1)).toBe(1)
    expect(at(NOW - 5000)).toBe(1)
    expect(at(null)).toBeNull()
  })
})

describe('poolExhaustedError: the whole pool', () => {
  it('says that no account is signed in when there is none', () => {
    const err = error([])
    expect(err.message).toBe('No account is signed in (run: codex-broker login).')
    expect(err.hint).toBe('Sign in with: codex-broker login.')
    expect(err.retryAt).toBeNull()
    expect(err.rateLimited).toBe(false)
    expect(err.code).toBe('ERR_POOL_EXHAUSTED')
  })

  it('groups and counts: rate-limited and needs sign-in (503: a sign-in may also help)', () => {
    const err = error(candidates(limited(), exhausted(), NEEDS_LOGIN))
    expect(err.message).toBe(
      'No account can take this request: 2 accounts rate-limited until 14:05 UTC, 1 needs sign-in (run: codex-broker login).',
    )
    expect(err.hint).toBe('Try again after 14:05 UTC. Sign in again with: codex-broker login.')
    expect(err.retryAt).toBe(AT_1405)
    expect(err.rateLimited).toBe(false)
    expect(err.httpStatus).toBe(503)
  })

  it('is rate-limited (429) when every account cools for a usage limit or a full quota', () => {
    const err = error(candidates(limited(), exhausted(AT_1600)))
    expect(err.message).toBe(
      'No account can take this request: 2 accounts rate-limited (the earliest until 14:05 UTC).',
    )
    expect(err.rateLimited).toBe(true)
    expect(err.httpStatus).toBe(429)
    expect(err.retryAt).toBe(AT_1405)
    expect(err.hint).toBe('Try again after 14:05 UTC.')
  })

  it('writes one account in the singular', () => {
    const err = error(candidates(limited()))
    expect(err.message).toBe(
      'No account can take this request: 1 account rate-limited until 14:05 UTC.',
    )
    expect(err.rateLimited).toBe(true)
  })

  it('reports accounts paused by the circuit breaker, with the earliest time over all reasons', () => {
    const err = error(candidates(paused(), limited()))
    expect(err.message).toBe(
      'No account can take this request: 1 account rate-limited until 14:05 UTC, 1 paused after repeated upstream failures until 14:02 UTC.',
    )
    expect(err.retryAt).toBe(AT_1402)
    expect(err.rateLimited).toBe(false)
    expect(err.hint).toBe('Try again after 14:02 UTC.')
    expect(error(candidates(paused())).message).toBe(
      'No account can take this request: 1 account paused after repeated upstream failures until 14:02 UTC.',
    )
  })

  it('lists every reason in a fixed order, with agreement in number', () => {
    const err = error(
      candidates(
        DISABLED,
        NEEDS_LOGIN,
        PROBING,
        paused(),
        limited(),
        NEEDS_LOGIN,
        DISABLED,
        WRONG_KIND,
        null,
      ),
    )
    expect(err.message).toBe(
      'No account can take this request: 1 account rate-limited until 14:05 UTC, 1 paused after repeated upstream failures until 14:02 UTC, 1 being re-tested after upstream failures, 2 need sign-in (run: codex-broker login), 2 are disabled, 1 is for another upstream (ChatGPT sign-in vs API key).',
    )
  })

  it('describes disabled-only and wrong-kind pools; nothing to wait for', () => {
    const disabled = error(candidates(DISABLED))
    expect(disabled.message).toBe('No account can take this request: 1 account is disabled.')
    expect(disabled.hint).toBe('Add an account with: codex-broker login.')
    expect(disabled.retryAt).toBeNull()
    expect(disabled.rateLimited).toBe(false)
    const wrong = error(candidates(WRONG_KIND, WRONG_KIND))
    expect(wrong.message).toBe(
      'No account can take this request: 2 accounts are for another upstream (ChatGPT sign-in vs API key).',
    )
    expect(wrong.rateLimited).toBe(false)
  })

  it('says the sign-in in the hint when only a sign-in helps', () => {
    const err = error(candidates(NEEDS_LOGIN, NEEDS_LOGIN))
    expect(err.message).toBe(
      'No account can take this request: 2 accounts need sign-in (run: codex-broker login).',
    )
    expect(err.hint).toBe('Sign in again with: codex-broker login.')
    expect(err.retryAt).toBeNull()
  })

  it('asks to retry in a moment when the only account is being probed', () => {
    const err = error(candidates(PROBING))
    expect(err.message).toBe(
      'No account can take this request: 1 account being re-tested after upstream failures.',
    )
    expect(err.hint).toBe('Try again in a moment.')
    expect(err.retryAt).toBeNull()
    expect(err.rateLimited).toBe(false)
  })

  it('does not let accounts of the other kind turn a rate limit into a 503', () => {
    const err = error(candidates(limited(), WRONG_KIND))
    expect(err.rateLimited).toBe(true)
  })

  it('prints dates for resets on another day, and uses a custom formatter', () => {
    const tomorrow = Date.parse('2025-06-02T08:00:00Z')
    expect(error(candidates(limited(tomorrow))).message).toBe(
      'No account can take this request: 1 account rate-limited until 2025-06-02 08:00 UTC.',
    )
    const custom = error(candidates(limited()), { ...pool, formatTime: (ms) => `<${ms}>` })
    expect(custom.message).toBe(
      `No account can take this request: 1 account rate-limited until <${AT_1405}>.`,
    )
    expect(custom.hint).toBe(`Try again after <${AT_1405}>.`)
  })

  it('uses the same wording for round-robin and least-used', () => {
    for (const strategy of ['round-robin', 'least-used'] as const) {
      expect(error(candidates(DISABLED), { strategy, pinned: 'acc_1' }).message).toBe(
        'No account can take this request: 1 account is disabled.',
      )
    }
  })

  it('never carries an email or a token (it is given ids only)', () => {
    const err = error(candidates(limited(), NEEDS_LOGIN))
    expect(JSON.stringify(err)).not.toMatch(/@|eyJ|sk-/)
  })
})

describe('poolExhaustedError: a pinned account', () => {
  const pinned = (id: string | null) => ({ strategy: 'pinned', pinned: id }) as const

  it('says the pinned account is rate-limited and how to unpin (429)', () => {
    const list = candidates(null, limited())
    const err = error(list, pinned('acc_2'))
    expect(err.message).toBe(
      'The pinned account acc_2 is rate-limited until 14:05 UTC (pinned with: codex-broker accounts use; unpin: codex-broker accounts use --clear).',
    )
    expect(err.hint).toBe(
      'Try again after 14:05 UTC. Or unpin with: codex-broker accounts use --clear.',
    )
    expect(err.retryAt).toBe(AT_1405)
    expect(err.rateLimited).toBe(true)
    expect(err.httpStatus).toBe(429)
  })

  it('covers every reason of the pinned account', () => {
    const tail =
      '(pinned with: codex-broker accounts use; unpin: codex-broker accounts use --clear).'
    const cases: [Unusable, string, string, number | null][] = [
      [
        paused(),
        'is paused after repeated upstream failures until 14:02 UTC',
        'Try again after 14:02 UTC. Or unpin with: codex-broker accounts use --clear.',
        AT_1402,
      ],
      [
        PROBING,
        'is being re-tested after upstream failures',
        'Try again in a moment. Or unpin with: codex-broker accounts use --clear.',
        null,
      ],
      [
        NEEDS_LOGIN,
        'needs sign-in',
        'Sign in again with: codex-broker login. Or unpin with: codex-broker accounts use --clear.',
        null,
      ],
      [DISABLED, 'is disabled', 'Unpin with: codex-broker accounts use --clear.', null],
      [
        WRONG_KIND,
        'is for another upstream (ChatGPT sign-in vs API key)',
        'Unpin with: codex-broker accounts use --clear.',
        null,
      ],
    ]
    for (const [reason, phrase, hint, retryAt] of cases) {
      const err = error(candidates(reason), pinned('acc_1'))
      expect(err.message).toBe(`The pinned account acc_1 ${phrase} ${tail}`)
      expect(err.hint).toBe(hint)
      expect(err.retryAt).toBe(retryAt)
      expect(err.rateLimited).toBe(false)
    }
  })

  it('only looks at the pinned account, not at the others', () => {
    const err = error(candidates(limited(AT_1402), NEEDS_LOGIN), pinned('acc_2'))
    expect(err.message).toBe(
      'The pinned account acc_2 needs sign-in (pinned with: codex-broker accounts use; unpin: codex-broker accounts use --clear).',
    )
    expect(err.retryAt).toBeNull()
  })

  it('says when the pinned account does not exist', () => {
    const err = error(candidates(null), pinned('acc_gone'))
    expect(err.message).toBe(
      'The pinned account acc_gone is not among the accounts (pinned with: codex-broker accounts use; unpin: codex-broker accounts use --clear).',
    )
    expect(err.hint).toBe(
      'Sign it in with: codex-broker login. Or unpin with: codex-broker accounts use --clear.',
    )
    expect(err.rateLimited).toBe(false)
  })

  it('says when nothing is pinned under the pinned strategy', () => {
    const err = error(candidates(null), pinned(null))
    expect(err.message).toBe('No account is pinned (pin one with: codex-broker accounts use ID).')
    expect(err.hint).toBe(
      'Pin an account with: codex-broker accounts use ID, or choose another strategy.',
    )
  })

  it('still says no account is signed in when the pool is empty', () => {
    expect(error([], pinned('acc_1')).message).toBe(
      'No account is signed in (run: codex-broker login).',
    )
  })
})
