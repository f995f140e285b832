/**
 * Errors become answers here and nowhere else (DESIGN.md "Errors"): a JSON body `{"error":{"code","message"}}`
 * with a snake_case code the browser can switch on, `Cache-Control: no-store`, and nothing from an upstream body,
 * a header or a secret — a `BrokerError`'s message is already redacted, anything else becomes a generic internal
 * error.
 */
import { httpStatusFor, isBrokerError, toPublicError } from '../lib/index.js'
import { jsonAnswer, type WebAnswer } from './web-answer.js'

/** A refusal the handler answers with. */
export class WebRefusal extends Error {
  override readonly name = 'WebRefusal'

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

/**
 * A JSON error answer.
 * @example
 * return errorAnswer(403, 'forbidden', 'Cross-origin requests are refused.')
 */
export function errorAnswer(
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): WebAnswer {
  return jsonAnswer({ error: { code, message } }, status, headers)
}

/**
 * The public code of a broker error: `ERR_UPSTREAM_RATE_LIMITED` → `upstream_rate_limited`.
 * @example
 * publicCode('ERR_NEEDS_LOGIN') // 'needs_login'
 */
export function publicCode(code: string): string {
  return code.replace(/^ERR_/, '').toLowerCase()
}

/**
 * The answer to anything thrown by a route.
 * @example
 * try { return await route(request) } catch (error) { return answerForError(error) }
 */
export function answerForError(error: unknown): WebAnswer {
  if (error instanceof WebRefusal) {
    return errorAnswer(error.status, error.code, error.message, error.headers)
  }
  const body = toPublicError(error)
  const status = isBrokerError(error) ? httpStatusFor(body.code) : 500
  const message = body.hint === undefined ? body.message : `${body.message} ${body.hint}`
  return errorAnswer(status, publicCode(body.code), message)
}
