// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { StatusAnswer } from '../../src/react/api-responses.js'
import {
  MIN_POLL_INTERVAL_MS,
  nextPollDelay,
  pollBounds,
  pollLoginStatus,
  type PollOutcome,
} from '../../src/react/login-poller.js'

afterEach(() => {
  vi.useRealTimers()
})

const pending: StatusAnswer = { state: 'pending', account: null, error: null }

describe('nextPollDelay and pollBounds', () => {
  it('grows ×1.5 up to the cap', () => {
    expect(nextPollDelay(2000, 10_000)).toBe(3000)
    expect(nextPollDelay(3000, 10_000)).toBe(4500)
    expect(nextPollDelay(8000, 10_000)).toBe(10_000)
    expect(nextPollDelay(10_000, 10_000)).toBe(10_000)
  })

  it('keeps the first wait at least MIN_POLL_INTERVAL_MS and the cap at least the first wait', () => {
    expect(pollBounds(0, 0)).toEqual({
      intervalMs: MIN_POLL_INTERVAL_MS,
      maxIntervalMs: MIN_POLL_INTERVAL_MS,
    })
    expect(pollBounds(-5, 100)).toEqual({ intervalMs: 250, maxIntervalMs: 250 })
    expect(pollBounds(Number.NaN, Number.POSITIVE_INFINITY)).toEqual({
      intervalMs: 2000,
      maxIntervalMs: 10_000,
    })
    expect(pollBounds(3000, 1000)).toEqual({ intervalMs: 3000, maxIntervalMs: 3000 })
    expect(pollBounds(1000, 5000)).toEqual({ intervalMs: 1000, maxIntervalMs: 5000 })
  })
})

describe('pollLoginStatus', () => {
  it('settles once, with the account, when the broker says logged_in, and polls no more', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const answers: StatusAnswer[] = [
      pending,
      { state: 'logged_in', account: { email: 'a@example.com', plan: 'pro' }, error: null },
    ]
    const getStatus = vi.fn(() => Promise.resolve(answers.shift() ?? pending))
    const outcomes: PollOutcome[] = []
    pollLoginStatus({
      getStatus,
      expiresAt: Date.now() + 600_000,
      intervalMs: 1000,
      maxIntervalMs: 5000,
      onSettled: (outcome) => outcomes.push(outcome),
    })
    await vi.advanceTimersByTimeAsync(999)
    expect(getStatus).toHaveBeenCalledTimes(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(getStatus).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1500)
    expect(getStatus).toHaveBeenCalledTimes(2)
    expect(outcomes).toEqual([
      { state: 'logged_in', account: { email: 'a@example.com', plan: 'pro' } },
    ])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(getStatus).toHaveBeenCalledTimes(2)
  })

  it('does not settle after stop, and aborts the poll in flight', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    let seen: AbortSignal | undefined
    const getStatus = vi.fn(
      (signal: AbortSignal) =>
        new Promise<StatusAnswer>((resolve) => {
          seen = signal
          signal.addEventListener('abort', () => {
            resolve({ state: 'logged_in', account: null, error: null })
          })
        }),
    )
    const onSettled = vi.fn()
    const stop = pollLoginStatus({
      getStatus,
      expiresAt: Date.now() + 600_000,
      intervalMs: 1000,
      maxIntervalMs: 1000,
      onSettled,
    })
    await vi.advanceTimersByTimeAsync(1000)
    expect(seen?.aborted).toBe(false)
    stop()
    expect(seen?.aborted).toBe(true)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(onSettled).not.toHaveBeenCalled()
    expect(getStatus).toHaveBeenCalledTimes(1)
  })

  it('polls once right away, then reports login_expired, when the code has already expired', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const getStatus = vi.fn(() => Promise.resolve(pending))
    const outcomes: PollOutcome[] = []
    pollLoginStatus({
      getStatus,
      expiresAt: Date.now() - 1,
      intervalMs: 2000,
      maxIntervalMs: 10_000,
      onSettled: (outcome) => outcomes.push(outcome),
    })
    await vi.advanceTimersByTimeAsync(0)
    expect(getStatus).toHaveBeenCalledTimes(1)
    expect(outcomes).toMatchObject([{ state: 'logged_out', error: { code: 'login_expired' } }])
  })
})
