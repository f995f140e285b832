/**
 * The plain-text reasons of a refused WebSocket upgrade, word for word those of the official
 * `codex app-server` (PROTOCOL.md §10), so that clients and scripts written against it read the
 * same 401 bodies from codex-broker.
 */

/**
 * Every reason a refused upgrade can give, in one list (the source of {@link WsAuthReason}).
 *
 * @example
 * WS_AUTH_REASONS.includes('expired websocket jwt') // true
 * @see PROTOCOL.md §10
 */
export const WS_AUTH_REASONS = [
  'missing websocket bearer token',
  'invalid authorization header',
  'invalid websocket bearer token',
  'invalid websocket jwt',
  'expired websocket jwt',
  'websocket jwt is not valid yet',
  'websocket jwt issuer mismatch',
  'websocket jwt audience mismatch',
] as const

/**
 * One reason of a 401 at the upgrade.
 *
 * @example
 * const reason: WsAuthReason = 'invalid websocket bearer token'
 * @see PROTOCOL.md §10
 */
export type WsAuthReason = (typeof WS_AUTH_REASONS)[number]

/**
 * The reasons a signed bearer token (JWT) can be refused with.
 *
 * @example
 * const reason: JwtFailureReason = 'websocket jwt audience mismatch'
 * @see PROTOCOL.md §10
 */
export type JwtFailureReason = Extract<
  WsAuthReason,
  | 'invalid websocket jwt'
  | 'expired websocket jwt'
  | 'websocket jwt is not valid yet'
  | 'websocket jwt issuer mismatch'
  | 'websocket jwt audience mismatch'
>
