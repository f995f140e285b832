/**
 * The pages and headers of the loopback callback server. Every answer — success, error, 400, 403, 404, even a
 * malformed request — carries `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
 * `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`, `X-Content-Type-Options: nosniff` and
 * `Connection: close`. Pages are static HTML without styles, scripts, images or links (nothing third-party, and
 * nothing the CSP would have to allow); the only variable text is an error code and message, HTML-escaped.
 * No page and no header ever carries a code, a token or a `Location`: the server never redirects.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.2.4
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
import type { ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import { escapeHtml } from '../lib/index.js'

/** The headers of every callback answer. */
export const CALLBACK_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  connection: 'close',
})

/** A page: status, title and paragraphs of plain text. */
export interface CallbackPage {
  status: number
  title: string
  paragraphs: readonly string[]
}

/**
 * The HTML of a page (escaped text, no styles, scripts or links).
 * @example
 * renderPage({ status: 200, title: 'Signed in', paragraphs: ['You can close this tab.'] })
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.2.4
 */
export function renderPage(page: CallbackPage): string {
  const body = page.paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join('\n')
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>codex-broker: ${escapeHtml(page.title)}</title></head>`,
    `<body>\n<h1>${escapeHtml(page.title)}</h1>\n${body}\n</body>`,
    '</html>',
    '',
  ].join('\n')
}

/**
 * Sends a page with the security headers.
 * @example
 * sendPage(res, NOT_FOUND_PAGE)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function sendPage(res: ServerResponse, page: CallbackPage): void {
  const html = renderPage(page)
  res.writeHead(page.status, {
    ...CALLBACK_SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
  })
  res.end(html)
}

/**
 * A complete raw HTTP/1.1 answer without a body, for requests Node's parser refused (no `ServerResponse`).
 * @example
 * socket.end(rawErrorResponse(400))
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2
 */
export function rawErrorResponse(status: number): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`]
  for (const [name, value] of Object.entries(CALLBACK_SECURITY_HEADERS))
    lines.push(`${name}: ${value}`)
  lines.push('content-length: 0', '', '')
  return lines.join('\r\n')
}

/** The success page: sent only after the credentials are stored. */
export const SUCCESS_PAGE: CallbackPage = {
  status: 200,
  title: 'Signed in',
  paragraphs: [
    'You are signed in to codex-broker and your credentials are saved.',
    'You can close this tab and return to the terminal.',
  ],
}

/** A callback whose state is wrong, missing, repeated or already used; the sign-in keeps waiting. */
export const STATE_MISMATCH_PAGE: CallbackPage = {
  status: 400,
  title: 'State mismatch',
  paragraphs: [
    'This sign-in answer does not belong to the sign-in in progress, so it was ignored.',
    'The sign-in is still waiting: use the link printed in the terminal.',
  ],
}

/** `/cancel` answered a non-browser caller. */
export const CANCELLED_PAGE: CallbackPage = {
  status: 200,
  title: 'Sign-in cancelled',
  paragraphs: ['The sign-in was cancelled.'],
}

/** `/cancel` from a web page (an `Origin` or `Sec-Fetch-Site` header). */
export const CANCEL_REFUSED_PAGE: CallbackPage = {
  status: 403,
  title: 'Forbidden',
  paragraphs: ['A web page cannot cancel the sign-in.'],
}

/** `/cancel` while the sign-in is already completing. */
export const CANCEL_TOO_LATE_PAGE: CallbackPage = {
  status: 409,
  title: 'Sign-in completing',
  paragraphs: ['The sign-in is already completing and can no longer be cancelled.'],
}

/** A `Host` that is not `127.0.0.1:<port>` or `localhost:<port>`. */
export const FORBIDDEN_HOST_PAGE: CallbackPage = {
  status: 403,
  title: 'Forbidden',
  paragraphs: ['This address is not accepted.'],
}

/** No `Host`, several `Host` headers, or a request target that is not a path. */
export const BAD_REQUEST_PAGE: CallbackPage = {
  status: 400,
  title: 'Bad request',
  paragraphs: ['The request is malformed.'],
}

/** Anything but `GET /auth/callback` and `GET /cancel`. */
export const NOT_FOUND_PAGE: CallbackPage = {
  status: 404,
  title: 'Not found',
  paragraphs: ['There is nothing here.'],
}

/** A request that arrives after the sign-in ended. */
export const ENDED_PAGE: CallbackPage = {
  status: 410,
  title: 'Sign-in ended',
  paragraphs: ['This sign-in has ended. Return to the terminal.'],
}

/**
 * The page for a failed sign-in: the error's code and message only (already redacted), never details.
 * @example
 * sendPage(res, errorPage(400, 'ERR_LOGIN_CANCELLED', 'The sign-in was denied at the issuer.'))
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.2.4
 */
export function errorPage(status: number, code: string, message: string): CallbackPage {
  return {
    status,
    title: 'Sign-in failed',
    paragraphs: [message, `Error code: ${code}`, 'Return to the terminal for details.'],
  }
}
