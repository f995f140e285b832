/**
 * `untilAborted`: a caller stops waiting at its abort while the shared work goes on for others.
 */
import { describe, expect, it } from 'vitest'
import { untilAborted } from '../../src/lib/index.js'

describe('untilAborted', () => {
  it('settles like the promise when nothing aborts (positive control)', async () => {
    await expect(untilAborted(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7)
    await expect(untilAborted(Promise.reject(new Error('boom')), undefined)).rejects.toThrow('boom')
  })

  it('rejects at the abort with the given error while the work goes on', async () => {
    let finish: (value: number) => void = () => undefined
    const work = new Promise<number>((resolve) => (finish = resolve))
    const controller = new AbortController()
    const waiting = untilAborted(work, controller.signal, () => new Error('stopped waiting'))
    controller.abort()
    await expect(waiting).rejects.toThrow('stopped waiting')
    finish(1)
    await expect(work).resolves.toBe(1)
  })

  it('rejects at once for an already aborted signal, with its reason by default', async () => {
    const reason = new Error('gone')
    await expect(
      untilAborted(new Promise(() => undefined), AbortSignal.abort(reason)),
    ).rejects.toBe(reason)
  })

  it('wraps a non-Error rejection in an Error', async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
    const rejected = untilAborted(Promise.reject('text'), new AbortController().signal)
    await expect(rejected).rejects.toBeInstanceOf(Error)
  })
})
