/**
 * Reading one JSON-RPC 2.0 text frame: a nesting-depth scan before `JSON.parse` (a deeply nested frame is refused
 * without recursion, so 10,000 open brackets cannot overflow the stack: SECURITY.md DOS-07), the parse itself, the
 * batch limits, and the validation of each request object. Also the response objects the server sends back. Pure
 * functions of the frame text: tested without a socket.
 * @see https://www.jsonrpc.org/specification
 */
import { RPC_ERROR_CODES } from './rpc-error.js'
import type { RpcId } from './rpc-method.js'

/** Deepest accepted nesting of arrays and objects in a frame (a batch counts as one level). */
export const MAX_NESTING_DEPTH = 64
/** Most entries in one batch; a bigger batch is answered with one `-32600`. */
export const MAX_BATCH_ENTRIES = 100
/** Longest method name quoted back in a `-32601` message. */
export const MAX_QUOTED_METHOD_LENGTH = 100

/** A JSON-RPC error object. */
export interface JsonRpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

/** A response the server sends: a result or an error, for an id (null when the id could not be read). */
export type JsonRpcResponse =
  | { readonly jsonrpc: '2.0'; readonly id: RpcId | null; readonly result: unknown }
  | { readonly jsonrpc: '2.0'; readonly id: RpcId | null; readonly error: JsonRpcErrorObject }

/** What a frame holds once read: an answer already decided, one entry, or a batch of entries. */
export type JsonRpcFrame =
  | { readonly kind: 'refused'; readonly response: JsonRpcResponse }
  | { readonly kind: 'single'; readonly entry: unknown }
  | { readonly kind: 'batch'; readonly entries: readonly unknown[] }

/** One entry of a frame after validation. */
export type JsonRpcEntry =
  | { readonly kind: 'invalid'; readonly response: JsonRpcResponse }
  /** Something the server must neither run nor answer (a notification with bad params). */
  | { readonly kind: 'ignored' }
  | {
      readonly kind: 'call'
      /** Absent for a notification. */
      readonly id: RpcId | undefined
      readonly method: string
      /** An object, an array, or undefined. */
      readonly params: unknown
    }

/**
 * An error response.
 * @example
 * errorResponse(null, RPC_ERROR_CODES.parseError, 'Parse error') // {jsonrpc:'2.0', id:null, error:{…}}
 * @see https://www.jsonrpc.org/specification#error_object
 */
export function errorResponse(
  id: RpcId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcResponse {
  return {
    jsonrpc: '2.0',
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  }
}

/**
 * A result response; `undefined` becomes `null` (a response must carry `result`).
 * @example
 * resultResponse(1, { ok: true })
 * @see https://www.jsonrpc.org/specification#response_object
 */
export function resultResponse(id: RpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result: result ?? null }
}

const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Whether the JSON text nests arrays and objects deeper than `maxDepth`, found by one loop over the characters
 * (brackets inside strings do not count). It does not validate the JSON: `JSON.parse` does that afterwards.
 * @example
 * exceedsNestingDepth('[[[1]]]', 2) // true
 * exceedsNestingDepth('["[[["]', 2) // false
 */
export function exceedsNestingDepth(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === BACKSLASH) index += 1
      else if (code === QUOTE) inString = false
    } else if (code === QUOTE) {
      inString = true
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1
      if (depth > maxDepth) return true
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1
    }
  }
  return false
}

function invalidRequest(id: RpcId | null, message = 'Invalid Request'): JsonRpcResponse {
  return errorResponse(id, RPC_ERROR_CODES.invalidRequest, message)
}

/**
 * Reads a text frame: too deep → `-32600`; not JSON → `-32700`; neither an object nor an array → `-32600`; an
 * empty batch or one of more than {@link MAX_BATCH_ENTRIES} entries → one `-32600`. Every refusal has id null.
 * @example
 * readFrame('{"jsonrpc":"2.0","id":1,"method":"initialize"}') // {kind:'single', entry:{…}}
 * readFrame('{') // {kind:'refused', response:{…, error:{code:-32700,…}}}
 * @see https://www.jsonrpc.org/specification#batch
 */
export function readFrame(
  text: string,
  limits: { readonly maxDepth?: number; readonly maxBatch?: number } = {},
): JsonRpcFrame {
  const maxDepth = limits.maxDepth ?? MAX_NESTING_DEPTH
  const maxBatch = limits.maxBatch ?? MAX_BATCH_ENTRIES
  if (exceedsNestingDepth(text, maxDepth)) {
    return {
      kind: 'refused',
      response: invalidRequest(null, `Invalid Request: nested deeper than ${maxDepth} levels.`),
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return {
      kind: 'refused',
      response: errorResponse(null, RPC_ERROR_CODES.parseError, 'Parse error'),
    }
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return { kind: 'refused', response: invalidRequest(null, 'Invalid Request: empty batch.') }
    }
    if (value.length > maxBatch) {
      return {
        kind: 'refused',
        response: invalidRequest(
          null,
          `Invalid Request: a batch holds at most ${maxBatch} entries.`,
        ),
      }
    }
    return { kind: 'batch', entries: value }
  }
  if (typeof value === 'object' && value !== null) return { kind: 'single', entry: value }
  return { kind: 'refused', response: invalidRequest(null) }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Validates one request object. `jsonrpc` must be `"2.0"`, `method` a string, `id` a string or a number or absent
 * (a null id is refused, answered with id null), `params` an object, an array or absent (else `-32602`, answered
 * only when there is an id).
 * @example
 * validateEntry({ jsonrpc: '2.0', id: 1, method: 'account/read' }) // {kind:'call', id:1, …}
 * @see https://www.jsonrpc.org/specification#request_object
 */
export function validateEntry(entry: unknown): JsonRpcEntry {
  if (!isObject(entry)) return { kind: 'invalid', response: invalidRequest(null) }
  const hasId = Object.hasOwn(entry, 'id')
  const rawId = entry.id
  const id = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : undefined
  if (hasId && id === undefined) {
    return { kind: 'invalid', response: invalidRequest(null, 'Invalid Request: bad id.') }
  }
  const answerId = id ?? null
  if (entry.jsonrpc !== '2.0') {
    return {
      kind: 'invalid',
      response: invalidRequest(answerId, 'Invalid Request: jsonrpc must be "2.0".'),
    }
  }
  const method = entry.method
  if (typeof method !== 'string') {
    return {
      kind: 'invalid',
      response: invalidRequest(answerId, 'Invalid Request: method must be a string.'),
    }
  }
  const params = entry.params
  const hasParams = Object.hasOwn(entry, 'params')
  if (hasParams && (typeof params !== 'object' || params === null)) {
    if (id === undefined) return { kind: 'ignored' }
    return {
      kind: 'invalid',
      response: errorResponse(
        id,
        RPC_ERROR_CODES.invalidParams,
        'Invalid params: params must be an object or an array.',
      ),
    }
  }
  return { kind: 'call', id, method, params: hasParams ? params : undefined }
}

/**
 * A method name as quoted back to the client and in logs: at most {@link MAX_QUOTED_METHOD_LENGTH} characters,
 * every character outside printable ASCII written as `\uXXXX`.
 * @example
 * quoteMethodName('a\nb') // 'a\\u000ab'
 */
export function quoteMethodName(name: string): string {
  const cut = name.length > MAX_QUOTED_METHOD_LENGTH
  const head = cut ? name.slice(0, MAX_QUOTED_METHOD_LENGTH) : name
  const escaped = head.replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  return cut ? `${escaped}…` : escaped
}
