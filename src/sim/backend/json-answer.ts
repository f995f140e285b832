/**
 * JSON answers of the backend and API routes, with the two stream faults applied the way they show on a plain
 * JSON answer: `cut` drops the connection before any byte of the answer, `slow` holds the answer back by
 * `slowStreamDelayMs` (abandoned, timer cleared, if the client leaves first).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { SimRequestContext } from '../http.js'

/**
 * Plays a queued `cut` or `slow` fault before a JSON answer; false when the answer must not be sent (the
 * connection was cut, or the client left while it was held back).
 */
export async function applyJsonFault(ctx: SimRequestContext): Promise<boolean> {
  if (ctx.fault === 'cut') {
    ctx.res.destroy()
    return false
  }
  if (ctx.fault === 'slow') {
    try {
      await sleep(ctx.state.config.slowStreamDelayMs, undefined, { signal: ctx.signal })
    } catch {
      return false
    }
  }
  return true
}

/** Sends JSON text that is already serialised (the hot path renders it without `JSON.stringify`). */
export function sendJsonText(
  ctx: SimRequestContext,
  status: number,
  json: string,
  headers: Record<string, string> = {},
): void {
  ctx.res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
    ...headers,
  })
  ctx.res.end(json)
}
