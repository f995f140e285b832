/**
 * The SSE parser against the WHATWG event-stream rules, one rule per test, and a property-style loop that splits
 * a sample stream (CRLF, CR, a BOM, comments, multi-line data and a multi-byte character) at every byte position
 * — and into single bytes — and demands the same events every time.
 */
import { describe, expect, it } from 'vitest'
import { parseSse, SseParser, type SseMessage } from '../../src/upstream/index.js'

const encoder = new TextEncoder()

function parseAll(...chunks: (string | Uint8Array)[]): SseMessage[] {
  const parser = new SseParser()
  const out: SseMessage[] = []
  for (const chunk of chunks) out.push(...parser.push(chunk))
  out.push(...parser.end())
  return out
}

describe('SseParser', () => {
  it('reads event and data, defaulting the type to message', () => {
    expect(parseAll('event: ping\ndata: {"a":1}\n\ndata: plain\n\n')).toEqual([
      { event: 'ping', data: '{"a":1}', id: '' },
      { event: 'message', data: 'plain', id: '' },
    ])
  })

  it('joins multi-line data with \\n and keeps an empty data line', () => {
    expect(parseAll('data: one\ndata:two\ndata\ndata:  three\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo\n\n three', id: '' },
    ])
    expect(parseAll('data\n\n')).toEqual([{ event: 'message', data: '', id: '' }])
  })

  it('ignores comments, unknown fields and an event with no data (resetting its type)', () => {
    expect(
      parseAll(': keep-alive\nfoo: bar\nevent: lonely\n\n:\ndata: x\n\nevent: e\ndata: y\n\n'),
    ).toEqual([
      { event: 'message', data: 'x', id: '' },
      { event: 'e', data: 'y', id: '' },
    ])
  })

  it('keeps the last event id across events and ignores one holding NUL', () => {
    expect(parseAll('id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n')).toEqual([
      { event: 'message', data: 'a', id: '7' },
      { event: 'message', data: 'b', id: '7' },
      { event: 'message', data: 'c', id: '7' },
      { event: 'message', data: 'd', id: '' },
    ])
  })

  it('takes retry only when it is all digits', () => {
    const parser = new SseParser()
    parser.push('retry: 1500\n\nretry: 12a\n\nretry: -1\n\n')
    expect(parser.retry).toBe(1500)
  })

  it('treats CRLF, CR and LF alike, also a CRLF split between chunks', () => {
    const expected = [
      { event: 'a', data: '1', id: '' },
      { event: 'b', data: '2', id: '' },
      { event: 'c', data: '3', id: '' },
    ]
    expect(
      parseAll('event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n'),
    ).toEqual(expected)
    expect(
      parseAll(
        'event: a\r',
        '\ndata: 1\r',
        '\n\r',
        '\nevent: b\rdata: 2\r\r',
        'event: c\ndata: 3\n\n',
      ),
    ).toEqual(expected)
  })

  it('strips one BOM at the very start only', () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf])
    expect(parseAll(bom, 'data: x\n\n')).toEqual([{ event: 'message', data: 'x', id: '' }])
    expect(parseAll('\uFEFFdata: y\n\n')).toEqual([{ event: 'message', data: 'y', id: '' }])
    // A second BOM is part of the field name, so the line is an unknown field.
    expect(parseAll('\uFEFF\uFEFFdata: z\n\ndata: w\n\n')).toEqual([
      { event: 'message', data: 'w', id: '' },
    ])
  })

  it('discards an event the stream ends in the middle of', () => {
    expect(parseAll('data: done\n\ndata: half')).toEqual([
      { event: 'message', data: 'done', id: '' },
    ])
    expect(parseAll('data: done\n\ndata: half\n')).toEqual([
      { event: 'message', data: 'done', id: '' },
    ])
  })

  it('gives the same events wherever the bytes are split (every position, and byte by byte)', () => {
    const sample =
      '\uFEFF: comment\r\nevent: response.output_text.delta\r\ndata: {"delta":"Écho — naïve 日本 🎉"}\r\n\r\n' +
      'id: 42\rdata: line one\rdata: line two\r\r' +
      'retry: 300\nevent: response.completed\ndata: {"type":"response.completed"}\n\n'
    const bytes = encoder.encode(sample)
    const expected = parseAll(bytes)
    expect(expected).toEqual([
      { event: 'response.output_text.delta', data: '{"delta":"Écho — naïve 日本 🎉"}', id: '' },
      { event: 'message', data: 'line one\nline two', id: '42' },
      { event: 'response.completed', data: '{"type":"response.completed"}', id: '42' },
    ])
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      expect(parseAll(bytes.subarray(0, cut), bytes.subarray(cut)), `split at ${cut}`).toEqual(
        expected,
      )
      for (let second = cut + 1; second < bytes.length; second += 7) {
        const pieces = [bytes.subarray(0, cut), bytes.subarray(cut, second), bytes.subarray(second)]
        expect(parseAll(...pieces), `split at ${cut} and ${second}`).toEqual(expected)
      }
    }
    expect(parseAll(...Array.from(bytes, (byte) => new Uint8Array([byte])))).toEqual(expected)
  })

  it('parseSse reads an async byte stream', async () => {
    async function* source() {
      await Promise.resolve()
      yield encoder.encode('event: a\ndata: 1\n')
      yield encoder.encode('\nevent: b\ndata: 2\n\n')
    }
    const events: SseMessage[] = []
    for await (const message of parseSse(source())) events.push(message)
    expect(events.map((message) => message.event)).toEqual(['a', 'b'])
  })
})
