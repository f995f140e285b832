// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest'
import { CodexClientError } from '../../src/react/errors.js'
import { LineSplitter, readLines } from '../../src/react/ndjson-stream.js'
import { readRunStream } from '../../src/react/run-stream.js'
import { ndjson } from './support/fake-fetch.js'

function streamOf(chunks: readonly (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const body = ndjson(chunks).body
  if (body === null) throw new Error('no body')
  return body
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<string[]> {
  const lines: string[] = []
  for await (const line of readLines(stream, signal)) lines.push(line)
  return lines
}

describe('LineSplitter', () => {
  it('holds a partial line until its newline arrives', () => {
    const splitter = new LineSplitter()
    expect(splitter.push('{"a":1}\n{"b"')).toEqual(['{"a":1}'])
    expect(splitter.push(':2}')).toEqual([])
    expect(splitter.push('\n\r\n{"c":3}\r\n')).toEqual(['{"b":2}', '{"c":3}'])
    expect(splitter.flush()).toEqual([])
  })

  it('delivers a last line without a newline on flush', () => {
    const splitter = new LineSplitter()
    expect(splitter.push('{"a":1}\n{"b":2}')).toEqual(['{"a":1}'])
    expect(splitter.flush()).toEqual(['{"b":2}'])
    expect(splitter.flush()).toEqual([])
  })
})

describe('readLines', () => {
  it('reassembles lines and UTF-8 characters cut at any byte', async () => {
    const text = '{"delta":"héllo 👋"}\n{"delta":"wörld"}\n{"delta":"end"}'
    const bytes = new TextEncoder().encode(text)
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const lines = await collect(streamOf([bytes.slice(0, cut), bytes.slice(cut)]))
      expect(lines).toEqual(['{"delta":"héllo 👋"}', '{"delta":"wörld"}', '{"delta":"end"}'])
    }
  })

  it('delivers one byte at a time', async () => {
    const bytes = new TextEncoder().encode('{"a":"é"}\n{"b":2}\n')
    const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte))
    expect(await collect(streamOf(chunks))).toEqual(['{"a":"é"}', '{"b":2}'])
  })

  it('rejects with the reason and cancels when the signal aborts', async () => {
    const controller = new AbortController()
    let cancelled: unknown = null
    const stream = new ReadableStream<Uint8Array>({
      start(streamController) {
        streamController.enqueue(new TextEncoder().encode('{"a":1}\n'))
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const lines: string[] = []
    const reading = (async () => {
      for await (const line of readLines(stream, controller.signal)) {
        lines.push(line)
        controller.abort(new DOMException('stop', 'AbortError'))
      }
    })()
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' })
    expect(lines).toEqual(['{"a":1}'])
    expect(cancelled).toMatchObject({ name: 'AbortError' })
  })
})

describe('readRunStream', () => {
  it('resolves with the text and usage at done, ignoring unknown event types', async () => {
    const deltas: string[] = []
    const result = await readRunStream(
      ndjson([
        '{"type":"text","delta":"a"}\n{"type":"heartbeat"}\n',
        '{"type":"text","delta":"b"}\n{"type":"done","usage":{"total_tokens":3}}\n',
        '{"type":"text","delta":"after done"}\n',
      ]),
      (delta) => deltas.push(delta),
    )
    expect(result).toEqual({ text: 'ab', usage: { total_tokens: 3 } })
    expect(deltas).toEqual(['a', 'b'])
  })

  it('rejects with the code and message of an error line', async () => {
    const failure = await readRunStream(
      ndjson(['{"type":"error","code":"rate_limited","message":"Slow down."}\n']),
      undefined,
    ).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(CodexClientError)
    expect(failure).toMatchObject({ code: 'rate_limited', message: 'Slow down.' })
  })

  it.each([
    ['a text event without a delta', '{"type":"text"}\n', 'invalid_response'],
    ['a line that is not JSON', 'nope\n', 'invalid_response'],
    ['an event that is not an object', '[1,2]\n', 'invalid_response'],
    ['a stream that ends without done', '{"type":"text","delta":"x"}\n', 'stream_incomplete'],
  ])('rejects %s', async (_name, body, code) => {
    await expect(readRunStream(ndjson([body]), undefined)).rejects.toMatchObject({ code })
  })
})
