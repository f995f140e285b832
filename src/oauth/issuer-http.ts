/**
 * The one way the sign-in talks to the issuer: request builders produce web-standard `Request`s (a form or a
 * JSON body, `redirect: 'manual'`), `sendToIssuer` sends one with the injected `fetch` under a timeout, exactly
 * once, and `readIssuerReply` reads the answer with a size cap and parses it as JSON when it is JSON. Failures to
 * reach the issuer or to read its answer become `ERR_UPSTREAM_UNAVAILABLE` without the URL's query, the request
 * body or the response body in the message; the response processors of each grant decide what a status means.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.2
 * @see https://fetch.spec.whatwg.org/#concept-request-redirect-mode
 */
import { BrokerError, errnoCode } from '../lib/index.js'
import { DEFAULT_ISSUER_TIMEOUT_MS } from './constants.js'
import type { IssuerConfig } from './token-response.js'

/** The largest issuer answer the broker reads (1 MiB); token responses are a few kilobytes. */
export const MAX_ISSUER_REPLY_BYTES = 1024 * 1024

/** An issuer answer, read: its status and its body parsed as JSON (`undefined` when it is not JSON). */
export interface IssuerReply {
  status: number
  json: unknown
}

/**
 * A `POST` with an `application/x-www-form-urlencoded` body (the code exchange and token exchange grants).
 * @example
 * const request = formRequest(issuerEndpoint(config.issuer, '/oauth/token'), { grant_type: 'authorization_code' })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export function formRequest(url: URL, fields: Readonly<Record<string, string>>): Request {
  return new Request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  })
}

/**
 * A `POST` with a JSON body (refresh, revoke and the device-code endpoints, as the Codex CLI sends them).
 * @example
 * const request = jsonRequest(issuerEndpoint(config.issuer, '/oauth/revoke'), { token, client_id })
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function jsonRequest(url: URL, body: Readonly<Record<string, string>>): Request {
  return new Request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    redirect: 'manual',
  })
}

/**
 * Makes the error for an issuer that could not be reached or read; `reason` is short and safe to show
 * ("connection failed (ECONNREFUSED)", "no answer within 30000 ms").
 */
export type TransportFailure = (reason: string, cause: unknown) => BrokerError

/** Options of {@link sendToIssuer}. */
export interface SendOptions {
  /** Aborts the request; the signal's reason is rethrown as is. */
  signal?: AbortSignal | undefined
  /** The error for a transport failure; `ERR_UPSTREAM_UNAVAILABLE` naming `what` by default. */
  fail?: TransportFailure
}

/**
 * The default transport failure: `ERR_UPSTREAM_UNAVAILABLE` "Could not reach the issuer (<what>): <reason>."
 * @example
 * throw unreachable('revoke')('connection failed (ECONNREFUSED)', error)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function unreachable(what: string): TransportFailure {
  return (reason, cause) =>
    new BrokerError(
      'ERR_UPSTREAM_UNAVAILABLE',
      `Could not reach the issuer (${what}): ${reason}.`,
      {
        cause,
        hint: 'Check the network connection and the issuer URL, then try again.',
      },
    )
}

/**
 * Sends `request` once with `config.fetch ?? fetch`, never following a redirect, aborted after
 * `config.timeoutMs` (30 s by default) or when `signal` aborts. Throws `ERR_UPSTREAM_UNAVAILABLE` (or the
 * error of `fail`) when the issuer cannot be reached or does not answer in time; an abort by `signal` rethrows
 * the signal's reason.
 * @example
 * const response = await sendToIssuer(config, buildRefreshRequest(config, token, 'forced'), 'refresh')
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.11
 */
export async function sendToIssuer(
  config: IssuerConfig,
  request: Request,
  what: string,
  options: SendOptions = {},
): Promise<Response> {
  const { signal } = options
  const fail = options.fail ?? unreachable(what)
  const timeoutMs = config.timeoutMs ?? DEFAULT_ISSUER_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  const combined = signal === undefined ? timeout : AbortSignal.any([timeout, signal])
  const send = config.fetch ?? fetch
  try {
    return await send(request, { signal: combined, redirect: 'manual' })
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason
    throw fail(timeout.aborted ? `no answer within ${timeoutMs} ms` : reasonOf(error), error)
  }
}

/**
 * Reads an issuer answer: at most {@link MAX_ISSUER_REPLY_BYTES}, parsed as JSON when possible. Throws
 * `ERR_UPSTREAM_UNAVAILABLE` (or the error of `fail`) when the body cannot be read (connection cut, timeout,
 * too large).
 * @example
 * const { status, json } = await readIssuerReply(response, 'code exchange')
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export async function readIssuerReply(
  response: Response,
  what: string,
  fail: TransportFailure = unreachable(what),
): Promise<IssuerReply> {
  let text: string
  try {
    text = await readCapped(response)
  } catch (error) {
    const reason =
      error instanceof TooLarge
        ? `its answer is larger than ${MAX_ISSUER_REPLY_BYTES} bytes`
        : `its answer could not be read (${reasonOf(error)})`
    throw fail(reason, error)
  }
  let json: unknown = undefined
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown)
  } catch {
    json = undefined
  }
  return { status: response.status, json }
}

/**
 * Discards an answer's body so the connection can be reused; errors are ignored.
 * @example
 * await discardBody(response)
 * @see https://fetch.spec.whatwg.org/#concept-body
 */
export async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel()
  } catch {
    // Nothing to do: the body is not needed.
  }
}

/**
 * Throws `ERR_UPSTREAM_BAD_RESPONSE` for a 3xx answer, which the broker never follows.
 * @example
 * await refuseRedirect(response, 'token exchange')
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.11
 */
export async function refuseRedirect(response: Response, what: string): Promise<void> {
  if (response.status < 300 || response.status > 399) return
  await discardBody(response)
  throw new BrokerError(
    'ERR_UPSTREAM_BAD_RESPONSE',
    `The issuer answered the ${what} with a redirect (HTTP ${response.status}); redirects are never followed.`,
    { hint: 'Check the issuer URL.' },
  )
}

async function readCapped(response: Response): Promise<string> {
  const body = response.body
  if (body === null) return ''
  const reader = (body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_ISSUER_REPLY_BYTES) {
      await reader.cancel().catch(() => undefined)
      throw new TooLarge()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

class TooLarge extends Error {
  constructor() {
    super('The answer is too large')
    this.name = 'TooLarge'
  }
}

function reasonOf(error: unknown): string {
  const nested: unknown =
    typeof error === 'object' && error !== null ? Reflect.get(error, 'cause') : undefined
  const code = errnoCode(nested) ?? errnoCode(error)
  if (code !== undefined) return `connection failed (${code})`
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'the request timed out'
  }
  return 'connection failed'
}
