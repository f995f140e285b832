/**
 * Every method of the app-server in one map: `initialize`, the `account/*` methods, `responses/*` and
 * `agent/run` (sharing one in-flight table, so `responses/cancel` cancels either). The
 * sign-ins in flight belong to the returned object; `close()` cancels them (each broadcasts its
 * `account/login/completed` with `success: false`) and resolves once they have ended and released their ports.
 */
import type { RpcMethod, RpcMethods } from '../rpc/rpc-method.js'
import { createAccountLoginMethods } from './account-login.js'
import { createAccountLogoutMethods } from './account-logout.js'
import { createAccountRateLimitsMethods } from './account-rate-limits.js'
import { createAccountReadMethods } from './account-read.js'
import { createAgentMethods } from './agent-methods.js'
import { createInitializeMethod } from './initialize.js'
import { LoginSessions } from './login-sessions.js'
import { createResponsesMethods } from './responses-methods.js'
import { ResponseRuns } from './responses-runs.js'
import type { AppServerServices } from './services.js'

/** The methods of an app-server and the end of their background work. */
export interface AppServerMethods {
  readonly methods: RpcMethods
  /** Cancels the sign-ins in flight and waits for them to end. */
  close(): Promise<void>
}

/**
 * Builds the app-server's methods over `services`.
 * @example
 * const { methods, close } = createAppServerMethods({ store, tokens, issuer, backendBase, identity })
 * // … serve them; on shutdown:
 * await close()
 */
export function createAppServerMethods(services: AppServerServices): AppServerMethods {
  const sessions = new LoginSessions({
    store: services.store,
    tokens: services.tokens,
    issuer: services.issuer,
    ...(services.callbackPorts === undefined ? {} : { callbackPorts: services.callbackPorts }),
    ...(services.loginTimeoutMs === undefined ? {} : { timeoutMs: services.loginTimeoutMs }),
    ...(services.clock === undefined ? {} : { clock: services.clock }),
  })
  const runs = new ResponseRuns()
  const entries: [string, RpcMethod][] = Object.entries({
    initialize: createInitializeMethod(),
    ...createAccountReadMethods(services),
    ...createAccountLoginMethods(services, sessions),
    ...createAccountLogoutMethods(services),
    ...createAccountRateLimitsMethods(services),
    ...createResponsesMethods(services, { runs }),
    ...createAgentMethods(services, runs),
  })
  return {
    methods: new Map(entries),
    close: () => sessions.close(),
  }
}
