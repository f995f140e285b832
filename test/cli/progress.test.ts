/**
 * The waiting spinner: drawn only on a terminal, with the time left, and cleared when stopped.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { formatLeft, startProgress } from '../../src/cli/progress.js'

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough
  stream.isTTY = isTTY
  let text = ''
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()))
  return { stream, written: () => text }
}

describe('startProgress', () => {
  it('draws the label and the time left on a terminal, and clears the line when stopped', async () => {
    const { stream, written } = fakeStream(true)
    const stop = startProgress(
      stream,
      'Waiting for you to approve',
      1_000_000 + 754_000,
      () => 1_000_000,
    )
    await new Promise((resolve) => setImmediate(resolve))
    stop()
    await new Promise((resolve) => setImmediate(resolve))
    expect(written()).toContain('Waiting for you to approve  12:34 left')
    expect(written().endsWith('\r\u001b[K')).toBe(true)
  })

  it('writes nothing when no person is watching', async () => {
    const { stream, written } = fakeStream(false)
    startProgress(stream, 'Waiting', null)()
    await new Promise((resolve) => setImmediate(resolve))
    expect(written()).toBe('')
  })
})

describe('formatLeft', () => {
  it('formats minutes and seconds, rounding up and never negative', () => {
    expect(formatLeft(900_000)).toBe('15:00')
    expect(formatLeft(61_001)).toBe('1:02')
    expect(formatLeft(-5)).toBe('0:00')
  })
})
