/**
 * Reading the answer of `POST /run/stream`: NDJSON events `{type:"text",delta}`, `{type:"done",usage}` and
 * `{type:"error",code,message}`. Each delta is handed to `onText` as it arrives and appended to the result; `done`
 * resolves with the text and usage; an `error` line rejects with a `CodexClientError` carrying its code; a stream
 * that ends without `done` rejects with `stream_incomplete`. Deltas are plain strings: rendering them is the
 * caller's business, and the default UI renders them as text.
 */
import { parseRunEvent } from './api-responses.js'
import { CodexClientError } from './errors.js'
import { readLines } from './ndjson-stream.js'
import type { RunResult } from './types.js'

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line)
  } catch (error) {
    throw new CodexClientError(
      'invalid_response',
      'The broker sent a stream line that is not JSON.',
      {
        cause: error,
      },
    )
  }
}

/**
 * Consumes a run stream.
 * @example
 * const response = await api.runStream({ prompt: 'Hi' }, signal)
 * const { text } = await readRunStream(response, (delta) => append(delta), signal)
 */
export async function readRunStream(
  response: Response,
  onText: ((delta: string) => void) | undefined,
  signal?: AbortSignal,
): Promise<RunResult> {
  if (response.body === null)
    throw new CodexClientError('invalid_response', 'The broker sent a run answer without a body.')
  let text = ''
  for await (const line of readLines(response.body, signal)) {
    const event = parseRunEvent(parseLine(line))
    if (event === null) continue
    switch (event.type) {
      case 'text':
        text += event.delta
        onText?.(event.delta)
        break
      case 'done':
        return { text, usage: event.usage }
      case 'error':
        throw new CodexClientError(event.code, event.message, { status: response.status })
    }
  }
  throw new CodexClientError('stream_incomplete', 'The answer stream ended before it was complete.')
}
