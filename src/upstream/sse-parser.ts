/**
 * An incremental Server-Sent Events parser that follows the WHATWG event-stream interpretation to the letter:
 * `event:`, multi-line `data:` joined by `\n`, `id:` (ignored when it holds a NUL), `retry:` (digits only),
 * `:` comments, CRLF / CR / LF line endings (a CRLF split across two chunks counts once), one BOM at the very
 * start, and chunk boundaries anywhere — including inside a UTF-8 multi-byte character, which the streaming
 * `TextDecoder` holds back until its last byte arrives. An event the stream ends in the middle of is discarded,
 * as the standard requires; whether that is an error is the caller's business (see `response-events.ts`).
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

/** One dispatched event. */
export interface SseMessage {
  /** The `event:` field, or `message` when none was given. */
  event: string
  /** The `data:` lines joined by `\n` (without the final one). */
  data: string
  /** The last event ID seen so far (it persists across events, as in the standard). */
  id: string
}

const BOM = '\uFEFF'

/**
 * Feed it bytes (or text) as they arrive; it answers the events each piece completes.
 * @example
 * const parser = new SseParser()
 * for await (const chunk of body) for (const message of parser.push(chunk)) handle(message)
 * parser.end() // anything after the last blank line is dropped
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  #buffer = ''
  #atStart = true
  #skipLineFeed = false
  #data = ''
  #hasData = false
  #eventType = ''
  #lastEventId = ''
  #retry: number | null = null

  /** The reconnection time from the last valid `retry:` field, in milliseconds. */
  get retry(): number | null {
    return this.#retry
  }

  /** Parses the next piece of the stream. */
  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true })
    return this.#consume(text)
  }

  /** Ends the stream: flushes the decoder and discards an incomplete event. */
  end(): SseMessage[] {
    const messages = this.#consume(this.#decoder.decode())
    this.#buffer = ''
    this.#data = ''
    this.#hasData = false
    this.#eventType = ''
    return messages
  }

  #consume(text: string): SseMessage[] {
    let input = text
    if (input === '') return []
    if (this.#atStart) {
      this.#atStart = false
      if (input.startsWith(BOM)) input = input.slice(1)
    }
    let start = 0
    if (this.#skipLineFeed) {
      this.#skipLineFeed = false
      if (input.startsWith('\n')) start = 1
    }
    const messages: SseMessage[] = []
    // Each search runs again only once passed, so a chunk with many lines and no CR stays linear.
    let lineFeed = -2
    let carriageReturn = -2
    for (;;) {
      if (lineFeed !== -1 && lineFeed < start) lineFeed = input.indexOf('\n', start)
      if (carriageReturn !== -1 && carriageReturn < start)
        carriageReturn = input.indexOf('\r', start)
      const end =
        lineFeed === -1
          ? carriageReturn
          : carriageReturn === -1
            ? lineFeed
            : Math.min(lineFeed, carriageReturn)
      if (end === -1) break
      const message = this.#line(this.#buffer + input.slice(start, end))
      this.#buffer = ''
      if (message) messages.push(message)
      start = end + 1
      if (input.charCodeAt(end) === 0x0d) {
        if (start === input.length) this.#skipLineFeed = true
        else if (input.charCodeAt(start) === 0x0a) start += 1
      }
    }
    this.#buffer += input.slice(start)
    return messages
  }

  #line(line: string): SseMessage | null {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.#eventType = value
        break
      case 'data':
        this.#data += value + '\n'
        this.#hasData = true
        break
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#retry = Number(value)
        break
      default:
        break
    }
    return null
  }

  #dispatch(): SseMessage | null {
    if (!this.#hasData) {
      this.#data = ''
      this.#eventType = ''
      return null
    }
    const message: SseMessage = {
      event: this.#eventType === '' ? 'message' : this.#eventType,
      data: this.#data.slice(0, -1),
      id: this.#lastEventId,
    }
    this.#data = ''
    this.#hasData = false
    this.#eventType = ''
    return message
  }
}

/**
 * Parses a whole byte stream (a response body) into events.
 * @example
 * for await (const message of parseSse(response.body)) console.log(message.event, message.data)
 */
export async function* parseSse(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<SseMessage, void, undefined> {
  const parser = new SseParser()
  for await (const chunk of source) yield* parser.push(chunk)
  yield* parser.end()
}
