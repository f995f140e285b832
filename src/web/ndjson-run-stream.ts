/**
 * A run's answer as the browser reads it: NDJSON, one event per line — `{"type":"text","delta"}` for each piece of
 * output text, then `{"type":"done","usage"}`, or `{"type":"error","code","message"}` when the model's answer
 * failed, was incomplete, or the stream broke. Only these three shapes ever leave: no upstream event, header or
 * body is forwarded. Events are pulled from the upstream only as fast as the browser reads (backpressure), and a
 * cancel (the browser went away) aborts the upstream request at once.
 */
import { isBrokerError, toPublicError } from '../lib/index.js'
import { isTerminalEvent, type ResponseEvent, type UpstreamResponse } from '../upstream/index.js'
import { terminalRunEvent } from '../runners/index.js'
import { publicCode } from './web-error.js'

/** One line of the stream. */
export type RunStreamEvent =
  | { readonly type: 'text'; readonly delta: string }
  | { readonly type: 'done'; readonly usage: unknown }
  | { readonly type: 'error'; readonly code: string; readonly message: string }

const encoder = new TextEncoder()

function line(event: RunStreamEvent): Uint8Array {
  return encoder.encode(`${JSON.stringify(event)}\n`)
}

function textOf(event: ResponseEvent): string | null {
  return event.type === 'response.output_text.delta' ? event.delta : null
}

/**
 * The NDJSON body of a run. `abort` is called when the browser cancels; `finish` once, however the stream ends.
 * @example
 * return new Response(runEventStream(answer, () => controller.abort(), release), { headers })
 */
export function runEventStream(
  answer: UpstreamResponse,
  abort: () => void,
  finish: () => void,
): ReadableStream<Uint8Array> {
  const events = answer.events()
  let finished = false
  const end = (): void => {
    if (finished) return
    finished = true
    finish()
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const next = await events.next()
            if (next.done === true) {
              controller.enqueue(line(terminalRunEvent(next.value)))
              break
            }
            if (isTerminalEvent(next.value)) {
              controller.enqueue(line(terminalRunEvent(next.value)))
              break
            }
            const delta = textOf(next.value)
            if (delta !== null && delta !== '') {
              controller.enqueue(line({ type: 'text', delta }))
              return
            }
          }
        } catch (error) {
          if (finished) return
          const body = toPublicError(error)
          const code = isBrokerError(error) ? publicCode(body.code) : 'internal'
          controller.enqueue(line({ type: 'error', code, message: body.message }))
        }
        controller.close()
        end()
      },
      async cancel() {
        abort()
        end()
        await events.return(undefined as never).catch(() => undefined)
      },
    },
    { highWaterMark: 0 },
  )
}
