/**
 * The origin the handler is serving (SECURITY.md C4.8, 1.0 items 2 and 5): from the configured public origins, or
 * — when none are configured — from the request's own URL, but then only for a loopback host, so a DNS-rebound
 * name (`Host: rebind.test:port`) is refused before any route runs. `X-Forwarded-Proto`/`-Host` count only with
 * `trustProxy` (a reverse proxy the app runs behind); otherwise anybody could claim any origin with them.
 */
import type { WebRequest } from './web-answer.js'

/** How the serving origin is found. */
export interface OriginPolicy {
  /** The exact origins the app is served from (`https://app.example.com`); null = loopback only. */
  readonly publicOrigins: ReadonlySet<string> | null
  /** Read `X-Forwarded-Proto` and `X-Forwarded-Host` (the first value of each). */
  readonly trustProxy: boolean
}

/** The serving origin, or why there is none. */
export type ServingOrigin = { ok: true; origin: string } | { ok: false; message: string }

/** A DNS name or an IP literal: no wildcards, no stray characters. */
const HOSTNAME =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/

const LOOPBACK_HOSTNAME = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

/**
 * True for `localhost`, `127.0.0.0/8` and `[::1]` (never `0.0.0.0`).
 * @example
 * isLoopbackHostname('127.0.0.1') // true
 */
export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTNAME.test(hostname.toLowerCase())
}

/**
 * Normalises an origin string (`scheme://host[:port]`, default ports dropped); null if it is not one.
 * @example
 * canonicalOrigin('https://App.Example.com:443') // 'https://app.example.com'
 */
export function canonicalOrigin(value: string): string | null {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
  if (url.username !== '' || url.password !== '') return null
  if (!HOSTNAME.test(url.hostname)) return null
  return url.origin
}

function firstValue(header: string | null): string | null {
  if (header === null) return null
  const first = header.split(',')[0]?.trim() ?? ''
  return first === '' ? null : first
}

/**
 * The origin this request reached.
 * @example
 * const serving = servingOrigin(request, { publicOrigins: null, trustProxy: false })
 * if (!serving.ok) return forbidden(serving.message)
 */
export function servingOrigin(request: WebRequest, policy: OriginPolicy): ServingOrigin {
  const url = new URL(request.url)
  let origin: string | null = url.origin
  let hostname = url.hostname
  if (policy.trustProxy) {
    const proto = firstValue(request.headers.get('x-forwarded-proto'))?.toLowerCase()
    const host = firstValue(request.headers.get('x-forwarded-host'))
    if (proto !== undefined || host !== null) {
      const scheme = proto ?? url.protocol.slice(0, -1)
      origin = canonicalOrigin(`${scheme}://${host ?? url.host}`)
      if (origin !== null) hostname = new URL(origin).hostname
    }
  }
  if (origin === null) return { ok: false, message: 'The forwarded origin is not valid.' }
  if (policy.publicOrigins !== null) {
    return policy.publicOrigins.has(origin)
      ? { ok: true, origin }
      : { ok: false, message: 'This host is not one the app is served from.' }
  }
  return isLoopbackHostname(hostname)
    ? { ok: true, origin }
    : {
        ok: false,
        message:
          'This host is not allowed: outside loopback the handler needs its public origins (option publicOrigins).',
      }
}
