/**
 * The simulator only ever listens on loopback: it hands out real-looking credentials, so it must not be reachable
 * from another machine by mistake.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** True for `localhost`, any 127.0.0.0/8 address and `::1`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true
  if (isIPv4(host)) return host.startsWith('127.')
  if (isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}
