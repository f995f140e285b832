/**
 * Splitting a byte stream into NDJSON lines. Chunks arrive at arbitrary boundaries: a line, and even one UTF-8
 * character, may be split across chunks, and one chunk may hold many lines. Bytes are decoded with a streaming
 * `TextDecoder`, text is held until its newline arrives, and a last line without a newline is still delivered.
 * Blank lines and a trailing `\r` are dropped.
 */

/**
 * Accumulates decoded text and hands back the complete lines.
 * @example
 * const splitter = new LineSplitter()
 * splitter.push('{"a":1}\n{"b"') // ['{"a":1}']
 * splitter.push(':2}\n') // ['{"b":2}']
 * splitter.flush() // []
 */
export class LineSplitter {
  #pending = ''

  /** Adds `text` and returns the lines it completed. */
  push(text: string): string[] {
    const parts = (this.#pending + text).split('\n')
    this.#pending = parts.pop() ?? ''
    return parts.map(trimLine).filter((line) => line !== '')
  }

  /** Returns what is left as a last line (if not blank) and resets. */
  flush(): string[] {
    const rest = trimLine(this.#pending)
    this.#pending = ''
    return rest === '' ? [] : [rest]
  }
}

function trimLine(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

/**
 * Yields the non-blank lines of a UTF-8 byte stream, in order, then the last line without a newline. Stops and
 * cancels the stream when `signal` aborts (rejecting with its reason) or when the consumer stops early.
 * @example
 * for await (const line of readLines(response.body, signal)) console.log(JSON.parse(line))
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<string, void, undefined> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  const splitter = new LineSplitter()
  const cancel = (): void => {
    reader.cancel(signal?.reason).catch(() => undefined)
  }
  signal?.addEventListener('abort', cancel, { once: true })
  let finished = false
  try {
    for (;;) {
      signal?.throwIfAborted()
      const { done, value } = await reader.read()
      signal?.throwIfAborted()
      if (done) break
      yield* splitter.push(decoder.decode(value, { stream: true }))
    }
    finished = true
    yield* splitter.push(decoder.decode())
    yield* splitter.flush()
  } finally {
    signal?.removeEventListener('abort', cancel)
    if (!finished) cancel()
    reader.releaseLock()
  }
}
