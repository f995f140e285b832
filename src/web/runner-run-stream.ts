/**
 * A runner's events as the browser reads them: the same NDJSON lines as a direct run (ndjson-run-stream.ts) —
 * `{"type":"text","delta"}` for each piece of answer text, then exactly one `{"type":"done","usage"}` or
 * `{"type":"error","code","message"}` — built field by field from the `RunEvent`, so nothing else a runner might
 * carry ever leaves. Events are pulled from the runner only as fast as the browser reads (backpressure). A cancel
 * (the browser went away) aborts the run's signal first, then calls the iterator's `return()` — a run waiting for
 * its next event only stops on the signal (src/runners/runner.ts) — and `finish` runs once the run's cleanup has
 * ended, so a session's next run never finds the account still lent.
 */
import type { RunEvent } from '../runners/index.js'
import type { RunStreamEvent } from './ndjson-run-stream.js'

const encoder = new TextEncoder()

function line(event: RunStreamEvent): Uint8Array {
  return encoder.encode(`${JSON.stringify(event)}\n`)
}

/** The line of an event: only the three shapes, only their own fields. */
function lineOf(event: RunEvent): RunStreamEvent {
  switch (event.type) {
    case 'text':
      return { type: 'text', delta: event.delta }
    case 'done':
      return { type: 'done', usage: event.usage }
    case 'error':
      return { type: 'error', code: event.code, message: event.message }
  }
}

/**
 * The NDJSON body of a runner's run. `abort` is called when the browser cancels (before the iterator is
 * returned); `finish` once, however the stream ends, with the run's terminal event (null when the browser left
 * first).
 * @example
 * const body = runnerEventStream(runner.run({ accountId, prompt, signal }), () => controller.abort(), release)
 */
export function runnerEventStream(
  events: AsyncGenerator<RunEvent, void, undefined>,
  abort: () => void,
  finish: (terminal: RunEvent | null) => void,
): ReadableStream<Uint8Array> {
  let finished = false
  let cancelled = false
  const end = (terminal: RunEvent | null): void => {
    if (finished) return
    finished = true
    finish(terminal)
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let terminal: RunEvent
        try {
          for (;;) {
            const next = await events.next()
            if (cancelled) return
            if (next.done === true) {
              terminal = { type: 'error', code: 'internal', message: 'Internal error' }
              break
            }
            const event = next.value
            if (event.type === 'text') {
              if (event.delta === '') continue
              controller.enqueue(line(lineOf(event)))
              return
            }
            terminal = event
            break
          }
        } catch {
          if (cancelled) return
          terminal = { type: 'error', code: 'internal', message: 'Internal error' }
        }
        controller.enqueue(line(lineOf(terminal)))
        controller.close()
        // The runner has cleaned up before its terminal event; returning lets the generator end.
        await events.return(undefined).catch(() => undefined)
        end(terminal)
      },
      async cancel() {
        cancelled = true
        abort()
        try {
          await events.return(undefined)
        } catch {
          // A run never throws; nothing to do either way.
        } finally {
          end(null)
        }
      },
    },
    { highWaterMark: 0 },
  )
}
