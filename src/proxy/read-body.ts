/**
 * Reads a request body into memory up to a byte limit, counting chunked bodies as they arrive, so a body past
 * the limit is refused with 413 without buffering it (SECURITY.md C2.9). The request is paused, not destroyed,
 * at the limit, so the refusal can still be written before the connection closes.
 */
import type { IncomingMessage } from 'node:http'

/** The outcome of {@link readBody}. */
export type BodyRead = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'aborted' }

/**
 * Reads the whole body, or stops at the first byte past `limit`.
 * @example
 * const read = await readBody(req, 10 * 1024 * 1024)
 * if (!read.ok) return sendRefusal(res, tooLarge(limit), true)
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: BodyRead): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAbort)
      req.off('aborted', onAbort)
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > limit) {
        req.pause()
        finish({ ok: false, reason: 'too_large' })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      finish({ ok: true, body: Buffer.concat(chunks, size) })
    }
    const onAbort = (): void => {
      finish({ ok: false, reason: 'aborted' })
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onAbort)
    req.on('aborted', onAbort)
  })
}
