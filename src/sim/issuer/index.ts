/**
 * The simulator's stand-in for auth.openai.com (PROTOCOL.md §2–5): the authorization endpoint and its sign-in
 * page, the token endpoint with every grant, the device-code flow and its page, revocation and discovery. Each
 * concern lives in its own module; this one only lists the routes for `startSimulator`'s dispatch table.
 */
import type { SimRoute } from '../http.js'
import { authorizeRoutes } from './authorize.js'
import { devicePageRoutes } from './device-page.js'
import { deviceRoutes } from './device.js'
import { revokeRoute } from './revoke.js'
import { tokenRoute } from './token.js'
import { wellKnownRoutes } from './well-known.js'

/**
 * Every issuer route.
 * @example
 * const routes = [...issuerRoutes(), ...backendRoutes(), ...controlRoutes(control)]
 */
export function issuerRoutes(): SimRoute[] {
  return [
    ...authorizeRoutes(),
    tokenRoute(),
    ...deviceRoutes(),
    ...devicePageRoutes(),
    revokeRoute(),
    ...wellKnownRoutes(),
  ]
}
