/**
 * Reading the routes' JSON bodies: a request body must be `Content-Type: application/json` (a form or a
 * `text/plain` POST — what a cross-site page can send without a preflight — is refused with 415), at most the
 * configured size (413, counted while reading, whatever `Content-Length` claims), and valid JSON (400).
 */
import type { WebRequest } from './web-answer.js'
import { WebRefusal } from './web-error.js'

/**
 * The request's JSON body; `{}` for an empty body.
 * @throws {WebRefusal} 415, 413 or 400.
 * @example
 * const body = await readJsonBody(request, settings.maxBodyBytes)
 */
export async function readJsonBody(request: WebRequest, maxBytes: number): Promise<unknown> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new WebRefusal(
      415,
      'unsupported_media_type',
      'Send the request body as JSON with Content-Type: application/json.',
    )
  }
  const declared = Number(request.headers.get('content-length') ?? '0')
  if (declared > maxBytes) throw tooLarge(maxBytes)
  const chunks: Uint8Array[] = []
  let size = 0
  if (request.bufferedBody !== undefined) {
    if (request.bufferedBody.byteLength > maxBytes) throw tooLarge(maxBytes)
    chunks.push(request.bufferedBody)
    size = request.bufferedBody.byteLength
  } else if (request.body !== null) {
    const reader = request.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(maxBytes)
      }
      chunks.push(value)
    }
  }
  if (size === 0) return {}
  const text = Buffer.concat(chunks, size).toString('utf8')
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new WebRefusal(400, 'invalid_request', 'The request body is not valid JSON.')
  }
}

function tooLarge(maxBytes: number): WebRefusal {
  return new WebRefusal(
    413,
    'payload_too_large',
    `The request body is larger than ${maxBytes} bytes; send a shorter prompt.`,
  )
}
