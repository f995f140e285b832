/**
 * Refusing an upgrade on the raw socket Node hands over (no `ServerResponse` exists for it): a minimal HTTP/1.1
 * answer with a plain-text body, `Connection: close`, then the socket is destroyed once written. Also the checks of
 * the handshake's shape that run before authentication (RFC 6455 §4.2.1), so a malformed upgrade costs no
 * verification and counts as no authentication failure; `ws` repeats them when it completes the upgrade.
 */
import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/** A refusal to write: status, plain-text body, extra headers. */
export interface UpgradeRefusal {
  readonly status: number
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * Writes the refusal and destroys the socket once the bytes are out. Never throws (the peer may be gone).
 * @example
 * refuseUpgrade(socket, { status: 401, body: 'missing websocket bearer token' })
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2
 */
export function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  socket.on('error', () => undefined)
  if (socket.destroyed) return
  const extra = Object.entries(refusal.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  const head =
    `HTTP/1.1 ${String(refusal.status)} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Cache-Control: no-store\r\n' +
    extra +
    `Content-Length: ${String(Buffer.byteLength(refusal.body))}\r\n\r\n`
  socket.once('finish', () => socket.destroy())
  socket.end(head + refusal.body)
}

/** RFC 6455 §4.1: a base64 nonce of 16 bytes. */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/

/**
 * The shape checks of an upgrade request: `GET`, `Upgrade: websocket`, a valid `Sec-WebSocket-Key` (400 each) and
 * `Sec-WebSocket-Version: 13` (else 426 with `Sec-WebSocket-Version: 13`, as RFC 6455 §4.4 asks). Null when fine.
 * @example
 * upgradeShapeRefusal(req) // null, or {status: 400, body: 'invalid Sec-WebSocket-Key'}
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1
 */
export function upgradeShapeRefusal(req: IncomingMessage): UpgradeRefusal | null {
  if (req.method !== 'GET') return { status: 400, body: 'a websocket upgrade must use GET' }
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
    return { status: 400, body: 'invalid Upgrade header' }
  }
  const key = req.headers['sec-websocket-key']
  if (key === undefined || !WEBSOCKET_KEY.test(key)) {
    return { status: 400, body: 'invalid Sec-WebSocket-Key' }
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    return {
      status: 426,
      body: 'unsupported Sec-WebSocket-Version',
      headers: { 'Sec-WebSocket-Version': '13' },
    }
  }
  return null
}
