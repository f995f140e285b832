/**
 * Small HTTP building blocks the simulator's routes share: the route and request-context types, body readers
 * with a size limit, and JSON/HTML/text senders. Issuer answers are never cacheable, like a real token endpoint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimState } from './state.js'
import type { SimFaultKind, SimRecordedRequest } from './types.js'

/** Faults a route applies itself, because they change how it streams rather than what it answers. */
export type SimStreamFault = Extract<SimFaultKind, 'cut' | 'slow'>

/** Everything a route handler gets for one request. */
export interface SimRequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  readonly state: SimState
  /** A `cut` or `slow` fault queued for this route, which the handler must honour. */
  readonly fault: SimStreamFault | null
  /** This request's record in `/__sim/requests`. */
  readonly recorded: SimRecordedRequest
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal
}

/** One route of the simulator: an exact method and path. */
export interface SimRoute {
  method: 'GET' | 'POST'
  path: string
  handle(ctx: SimRequestContext): Promise<void> | void
}

/**
 * Thrown by a handler to answer with a status and a JSON body; `headers` go out with it (the backend's error
 * answers carry the `x-codex-*` rate-limit headers too).
 */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`simulator answered ${status}`)
  }
}

const MAX_BODY_BYTES = 10 * 1024 * 1024

/** Reads the request body as UTF-8 text (at most 10 MiB) and records it. */
export async function readBody(ctx: SimRequestContext): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      throw new SimHttpError(413, {
        error: { code: 'payload_too_large', message: 'Body too large' },
      })
    }
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  ctx.recorded.body = text
  return text
}

/** Reads a JSON object body; anything else is a 400 with an OAuth-style error. */
export async function readJsonObject(ctx: SimRequestContext): Promise<Record<string, unknown>> {
  const text = await readBody(ctx)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new SimHttpError(400, {
      error: 'invalid_request',
      error_description: 'Body is not valid JSON',
    })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SimHttpError(400, {
      error: 'invalid_request',
      error_description: 'Body must be a JSON object',
    })
  }
  return parsed as Record<string, unknown>
}

/**
 * Reads a body that may be JSON or form-encoded (the token endpoint accepts both), as a flat string map.
 * Non-string JSON values are ignored, as an OAuth server would ignore them.
 */
export async function readParams(ctx: SimRequestContext): Promise<Map<string, string>> {
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === 'application/json') {
    const object = await readJsonObject(ctx)
    const params = new Map<string, string>()
    for (const [key, value] of Object.entries(object)) {
      if (typeof value === 'string') params.set(key, value)
    }
    return params
  }
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(await readBody(ctx))
    const params = new Map<string, string>()
    for (const [key, value] of form) {
      // A repeated parameter is ambiguous; RFC 6749 §3.1 says it must be refused.
      if (params.has(key)) {
        throw new SimHttpError(400, {
          error: 'invalid_request',
          error_description: `Parameter ${key} repeated`,
        })
      }
      params.set(key, value)
    }
    return params
  }
  throw new SimHttpError(415, {
    error: 'invalid_request',
    error_description: 'Content-Type must be application/json or application/x-www-form-urlencoded',
  })
}

/** The bearer token of the `Authorization` header, or null. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization
  if (!header) return null
  const match = /^Bearer +(\S+)$/i.exec(header.trim())
  return match?.[1] ?? null
}

/** Sends a JSON answer; every JSON answer is `no-store`. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(payload)
}

/** Sends an HTML page that loads nothing and cannot be framed. */
export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    ...headers,
  })
  res.end(html)
}
