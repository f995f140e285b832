import { describe, expect, it } from 'vitest'
import { ManualClock, systemClock } from '../../src/lib/clock.js'

describe('ManualClock', () => {
  it('starts where told and stands still until advanced', () => {
    const clock = new ManualClock(1_000)
    expect(clock.now()).toBe(1_000)
    clock.advance(250)
    expect(clock.now()).toBe(1_250)
  })

  it('wakes sleepers in due order, ties in the order they slept, at their due time', async () => {
    const clock = new ManualClock(0)
    const woken: string[] = []
    const sleep = (label: string, ms: number) =>
      clock.sleep(ms).then(() => woken.push(`${label}@${clock.now()}`))
    const all = Promise.all([sleep('c', 30), sleep('a1', 10), sleep('b', 20), sleep('a2', 10)])
    await clock.advanceAsync(25)
    expect(woken).toEqual(['a1@10', 'a2@10', 'b@20'])
    expect(clock.now()).toBe(25)
    expect(clock.pendingSleepers).toBe(1)
    clock.advance(5)
    await all
    expect(woken).toEqual(['a1@10', 'a2@10', 'b@20', 'c@30'])
  })

  it('does not wake a sleeper before its due time', async () => {
    const clock = new ManualClock()
    let done = false
    const sleeping = clock.sleep(100).then(() => (done = true))
    clock.advance(99)
    await Promise.resolve()
    expect(done).toBe(false)
    clock.advance(1)
    await sleeping
    expect(done).toBe(true)
  })

  it('advanceAsync fires sleeps scheduled by woken continuations within the window', async () => {
    const clock = new ManualClock()
    const times: number[] = []
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10)
        times.push(clock.now())
      }
    })()
    await clock.advanceAsync(30)
    await loop
    expect(times).toEqual([10, 20, 30])
  })

  it('rejects an already-aborted sleep with the reason and never schedules it', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const reason = new Error('stop')
    controller.abort(reason)
    await expect(clock.sleep(10, controller.signal)).rejects.toBe(reason)
    expect(clock.pendingSleepers).toBe(0)
  })

  it('rejects on abort mid-sleep and removes the sleeper', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const sleeping = clock.sleep(1_000, controller.signal)
    expect(clock.pendingSleepers).toBe(1)
    controller.abort()
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' })
    expect(clock.pendingSleepers).toBe(0)
    clock.advance(2_000)
  })

  it('wraps a non-Error abort reason in an AbortError with the reason as cause', async () => {
    const clock = new ManualClock()
    const controller = new AbortController()
    const sleeping = clock.sleep(5, controller.signal)
    controller.abort('user left')
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError', cause: 'user left' })
  })

  it('resolves zero and negative sleeps at once and refuses bad advances', async () => {
    const clock = new ManualClock()
    await clock.sleep(0)
    await clock.sleep(-5)
    await expect(clock.sleep(Number.NaN)).rejects.toBeInstanceOf(RangeError)
    expect(() => {
      clock.advance(-1)
    }).toThrow(RangeError)
    expect(() => {
      clock.advance(Number.POSITIVE_INFINITY)
    }).toThrow(RangeError)
  })
})

describe('systemClock', () => {
  it('reports wall-clock time', () => {
    const before = Date.now()
    const now = systemClock.now()
    expect(now).toBeGreaterThanOrEqual(before)
    expect(now).toBeLessThanOrEqual(Date.now())
  })

  it('sleeps roughly the requested time', async () => {
    const start = performance.now()
    await systemClock.sleep(30)
    expect(performance.now() - start).toBeGreaterThanOrEqual(25)
  })

  it('rejects promptly when aborted, before or during the sleep', async () => {
    const early = new AbortController()
    early.abort(new Error('early'))
    await expect(systemClock.sleep(10_000, early.signal)).rejects.toThrow('early')

    const late = new AbortController()
    const start = performance.now()
    const sleeping = systemClock.sleep(10_000, late.signal)
    setTimeout(() => {
      late.abort(new Error('late'))
    }, 10)
    await expect(sleeping).rejects.toThrow('late')
    expect(performance.now() - start).toBeLessThan(5_000)
  })

  it('waits for abort only when asked to sleep forever', async () => {
    const controller = new AbortController()
    const sleeping = systemClock.sleep(Number.POSITIVE_INFINITY, controller.signal)
    setTimeout(() => {
      controller.abort()
    }, 10)
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' })
  })
})
