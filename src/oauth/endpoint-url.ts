/**
 * The rule for every URL the sign-in talks to: `https:` always, plain `http:` only to a loopback host
 * (127.0.0.0/8, `::1`, `localhost`), where the simulator and local test doubles live. A token sent over plain HTTP
 * to anything else could be read on the way, so such a URL is a configuration error, reported before any request
 * is made. URLs with credentials (`user:pass@`) are refused too: the issuer never needs them and they end up in
 * logs.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.6
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-8.3
 */
import { isIPv4 } from 'node:net'
import { BrokerError } from '../lib/index.js'

/**
 * True for `localhost`, an IPv4 address in 127.0.0.0/8 and `::1` (as the WHATWG URL parser writes them: IPv6
 * in brackets, IPv4 normalised to dotted decimal).
 * @example
 * isLoopbackHostname('127.0.0.1') // true
 * isLoopbackHostname('[::1]') // true
 * isLoopbackHostname('localhost.evil.example') // false
 * @see https://www.rfc-editor.org/rfc/rfc6761#section-6.3
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase()
  if (host === 'localhost') return true
  if (host === '[::1]' || host === '::1') return true
  return isIPv4(host) && host.startsWith('127.')
}

/**
 * Parses `url` and checks that the broker may send credentials to it: `https:` anywhere, `http:` only to a
 * loopback host. Throws `ERR_INVALID_CONFIG` naming `what` otherwise.
 * @example
 * assertSafeEndpoint('https://auth.openai.com', 'issuer') // URL
 * assertSafeEndpoint('http://127.0.0.1:8787', 'issuer') // URL (the simulator)
 * assertSafeEndpoint('http://auth.example.com', 'issuer') // throws ERR_INVALID_CONFIG
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.6
 */
export function assertSafeEndpoint(url: string | URL, what: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new BrokerError('ERR_INVALID_CONFIG', `The ${what} URL is not a valid absolute URL.`, {
      cause: error,
      hint: 'Give a full URL such as https://auth.openai.com.',
    })
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      `The ${what} URL must not contain a user name or password.`,
      { hint: 'Remove the user:password@ part of the URL.' },
    )
  }
  if (parsed.protocol === 'https:') return parsed
  if (parsed.protocol === 'http:') {
    if (isLoopbackHostname(parsed.hostname)) return parsed
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      `The ${what} URL ${parsed.origin} uses plain http:// on a host that is not loopback; tokens would travel unencrypted.`,
      {
        hint: 'Use an https:// URL (plain http:// is accepted only for 127.0.0.1, ::1 and localhost).',
      },
    )
  }
  throw new BrokerError(
    'ERR_INVALID_CONFIG',
    `The ${what} URL must use https:// (or http:// on a loopback host), not ${parsed.protocol}`,
    { hint: 'Use an https:// URL.' },
  )
}

/**
 * The URL of an endpoint under the issuer: the checked issuer base without trailing slashes, then `path`.
 * @example
 * issuerEndpoint('https://auth.openai.com/', '/oauth/token') // URL https://auth.openai.com/oauth/token
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export function issuerEndpoint(issuer: string, path: `/${string}`): URL {
  return new URL(`${issuerBase(issuer)}${path}`)
}

/**
 * The checked issuer base URL as a string without a trailing slash, query or fragment, used to build the
 * device-flow URLs (`{issuer}/codex/device`, `{issuer}/deviceauth/callback`).
 * @example
 * issuerBase('http://127.0.0.1:8787/') // 'http://127.0.0.1:8787'
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
export function issuerBase(issuer: string): string {
  const url = assertSafeEndpoint(issuer, 'issuer')
  if (url.search !== '' || url.hash !== '') {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      'The issuer URL must not have a query or a fragment.',
      { hint: 'Give the issuer as a plain base URL such as https://auth.openai.com.' },
    )
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}
