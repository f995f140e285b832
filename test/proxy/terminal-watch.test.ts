/**
 * TerminalWatch: finds a terminal event's `event:` line in relayed bytes, also split across chunks, and not in a
 * stream that only has deltas (the relay then appends its own error event).
 */
import { describe, expect, it } from 'vitest'
import { streamCutEvent, TerminalWatch } from '../../src/proxy/terminal-watch.js'

const delta =
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n'
const completed = 'event: response.completed\ndata: {"type":"response.completed","response":{}}\n\n'

function watch(chunks: string[]): boolean {
  const watcher = new TerminalWatch()
  for (const chunk of chunks) watcher.push(Buffer.from(chunk))
  return watcher.seen
}

describe('TerminalWatch', () => {
  it('sees a terminal event whole, or split at every possible point', () => {
    expect(watch([delta, completed])).toBe(true)
    const text = delta + completed
    for (let at = 1; at < text.length; at += 1) {
      expect({ at, seen: watch([text.slice(0, at), text.slice(at)]) }).toEqual({ at, seen: true })
    }
    expect(watch(['event: response.failed\ndata: {}\n\n'])).toBe(true)
    expect(watch(['event: response.incomplete\ndata: {}\n\n'])).toBe(true)
    expect(watch(['event: error\ndata: {}\n\n'])).toBe(true)
  })

  it('does not see one in deltas alone, even when a delta mentions the name', () => {
    expect(watch([delta, delta])).toBe(false)
    const quoting = 'event: response.output_text.delta\ndata: {"delta":"response.completed"}\n\n'
    expect(watch([quoting])).toBe(false)
    expect(watch([])).toBe(false)
  })

  it('the appended error event is one well-formed SSE frame', () => {
    const frame = streamCutEvent()
    expect(frame).toMatch(/^event: error\ndata: \{[^\n]+\}\n\n$/)
    expect(JSON.parse(frame.split('\n')[1]?.slice('data: '.length) ?? '')).toMatchObject({
      type: 'error',
      code: 'ERR_STREAM_CUT',
    })
  })
})
