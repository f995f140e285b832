/**
 * Writes pre-rendered SSE frames to a response, the one place both response routes stream from. With no delay
 * the frames go out in large batches (one write for a short answer: the benchmark's case); with a delay they go
 * one at a time with a pause between. Either way it honours backpressure (a full socket buffer is waited out on
 * `drain`), stops as soon as the client goes away (no write and no timer outlives the request), and can play a
 * `cut` fault: send part of the stream, then drop the connection with no terminal event.
 */
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SimRequestContext } from '../http.js'

/** How a stream is played. */
export interface SseWriteOptions {
  /** Extra response headers (the `x-codex-*` ones on the backend). */
  headers: Record<string, string>
  /** Pause between events; 0 sends them back to back. */
  delayMs: number
  /** When set, send this many frames, then destroy the connection (a `cut` fault). */
  cutAfter: number | null
}

// Large enough that a short answer is a single write, small enough not to hold a huge string for a big stream.
const BATCH_CHARS = 64 * 1024

/** Streams `frames` as a 200 `text/event-stream` answer; resolves when done, cut or abandoned. */
export async function writeSse(
  ctx: SimRequestContext,
  frames: readonly string[],
  options: SseWriteOptions,
): Promise<void> {
  const { res, signal } = ctx
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...options.headers,
  })
  const cut = options.cutAfter !== null
  const count = Math.min(options.cutAfter ?? frames.length, frames.length)
  let sent = 0
  if (options.delayMs <= 0) {
    let batch = ''
    for (let i = 0; i < count; i += 1) {
      batch += frames[i] ?? ''
      if (batch.length >= BATCH_CHARS && i + 1 < count) {
        if (!(await write(ctx, batch))) return
        batch = ''
      }
    }
    if (!cut) {
      if (!signal.aborted) res.end(batch)
      return
    }
    if (batch !== '' && !(await writeFlushed(ctx, batch))) return
    res.destroy()
    return
  }
  for (; sent < count; sent += 1) {
    if (sent > 0 && !(await pause(options.delayMs, signal))) return
    const frame = frames[sent] ?? ''
    const ok = cut && sent + 1 === count ? await writeFlushed(ctx, frame) : await write(ctx, frame)
    if (!ok) return
  }
  if (cut) res.destroy()
  else res.end()
}

/** Writes a chunk, waiting out backpressure; false once the client is gone. */
async function write(ctx: SimRequestContext, chunk: string): Promise<boolean> {
  if (ctx.signal.aborted || ctx.res.destroyed) return false
  if (ctx.res.write(chunk)) return true
  try {
    await once(ctx.res, 'drain', { signal: ctx.signal })
    return true
  } catch {
    return false
  }
}

/** Writes a chunk and waits until it has been handed to the socket, so a following destroy cannot drop it. */
function writeFlushed(ctx: SimRequestContext, chunk: string): Promise<boolean> {
  if (ctx.signal.aborted || ctx.res.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = (): void => {
      resolve(false)
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    ctx.res.write(chunk, (error) => {
      ctx.signal.removeEventListener('abort', onAbort)
      resolve(error == null)
    })
  })
}

/** Waits `ms`, or less if the client goes away (the timer is cleared then); false when abandoned. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}
