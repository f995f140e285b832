/**
 * Watches relayed SSE bytes for the stream's terminal event without parsing or copying them: the relay passes
 * chunks through untouched (P3 wants the bytes as they come), and this only looks for the `event:` line of a
 * terminal Responses event (`response.completed`, `response.failed`, `response.incomplete`, `error`), also when one
 * is split across two chunks. When a stream ends without one, the proxy appends its own `error` event, so a client sees a clean
 * failure instead of a stream that merely stops.
 */

/** The `event:` lines of the terminal events, as bytes (the upstream writes `event: <type>` before each data line). */
const MARKERS = [
  'event: response.completed',
  'event: response.failed',
  'event: response.incomplete',
  'event: error',
].map((marker) => Buffer.from(marker, 'latin1'))
/** Longer than any marker, so one split across two chunks is still seen. */
const CARRY = 32

/** Feed it every chunk; `seen` tells whether a terminal event went by. */
export class TerminalWatch {
  #tail: Buffer = Buffer.alloc(0)
  #seen = false

  /** Looks at one chunk (a native byte search per marker; nothing is copied but a few bytes of carry). */
  push(chunk: Uint8Array): void {
    if (this.#seen) return
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const joined =
      this.#tail.length === 0 ? bytes : Buffer.concat([this.#tail, bytes.subarray(0, CARRY)])
    if (MARKERS.some((marker) => bytes.includes(marker) || joined.includes(marker))) {
      this.#seen = true
      return
    }
    this.#tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - CARRY)))
  }

  /** Whether a terminal event was seen. */
  get seen(): boolean {
    return this.#seen
  }
}

/**
 * The SSE `error` event the proxy appends to a Responses stream that ended early (OpenAI's streaming error shape).
 * @example
 * res.end(streamCutEvent())
 */
export function streamCutEvent(): string {
  const data = {
    type: 'error',
    code: 'ERR_STREAM_CUT',
    message: 'The upstream stream ended before the response was complete; try again.',
    param: null,
  }
  return `event: error\ndata: ${JSON.stringify(data)}\n\n`
}
