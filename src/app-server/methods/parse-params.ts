/**
 * Reading a method's params at the edge: the client's value (an object, an array or absent) is checked against a
 * zod schema once, and anything wrong becomes `-32602 Invalid params: <what is wrong>. Send <what to send>.` The
 * message names the field and the rule, never the value sent (an API key must not come back in an error).
 * Absent params read as `{}`, so methods whose params are all optional can be called without any.
 * @see https://www.jsonrpc.org/specification#error_object
 */
import type { z } from 'zod'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'

/**
 * Parses `params` with `schema`, or throws `RpcError(-32602)` saying what is wrong and, from `expected`, what to
 * send instead.
 * @example
 * const { loginId } = parseParams(cancelParams, params, '{"loginId": "<id from account/login/start>"}')
 */
export function parseParams<S extends z.ZodType>(
  schema: S,
  params: unknown,
  expected: string,
): z.output<S> {
  if (Array.isArray(params)) {
    throw new RpcError(
      RPC_ERROR_CODES.invalidParams,
      `Invalid params: expected an object, got an array. Send ${expected}.`,
    )
  }
  const parsed = schema.safeParse(params ?? {})
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join('.')
    return path === '' ? issue.message : `${path}: ${issue.message}`
  })
  throw new RpcError(
    RPC_ERROR_CODES.invalidParams,
    `Invalid params: ${problems.join('; ')}. Send ${expected}.`,
  )
}
