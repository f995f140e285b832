/**
 * The proxy's exact route table. A path matches only byte for byte (no trailing slash, no case folding, no
 * percent-decoding, no `;` parameters, no query string): anything else is 404, and a known path with another
 * method is 405 with `Allow` (SECURITY.md C2.4, PX-03).
 */

/** The routes the proxy serves. */
export type ProxyRoute = 'responses' | 'chat_completions' | 'models' | 'healthz' | 'shutdown'

const ROUTES: ReadonlyMap<string, { method: string; route: ProxyRoute }> = new Map([
  ['/v1/responses', { method: 'POST', route: 'responses' }],
  ['/responses', { method: 'POST', route: 'responses' }],
  ['/v1/chat/completions', { method: 'POST', route: 'chat_completions' }],
  ['/v1/models', { method: 'GET', route: 'models' }],
  ['/healthz', { method: 'GET', route: 'healthz' }],
  ['/shutdown', { method: 'POST', route: 'shutdown' }],
])

/** What {@link matchRoute} found. */
export type RouteMatch =
  | { kind: 'route'; route: ProxyRoute }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: string }

/**
 * Matches a request target exactly. `shutdown` exists only when enabled.
 * @example
 * matchRoute('POST', '/v1/responses', false) // { kind: 'route', route: 'responses' }
 * matchRoute('POST', '/v1/responses?x=1', false) // { kind: 'not_found' }
 */
export function matchRoute(method: string, target: string, shutdownEnabled: boolean): RouteMatch {
  const entry = ROUTES.get(target)
  if (entry === undefined || (entry.route === 'shutdown' && !shutdownEnabled)) {
    return { kind: 'not_found' }
  }
  if (entry.method !== method) return { kind: 'method_not_allowed', allow: entry.method }
  return { kind: 'route', route: entry.route }
}
