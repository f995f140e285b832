/**
 * The WebSocket JSON-RPC app-server: authentication at the upgrade, the server, the JSON-RPC contract its methods
 * implement, and the methods themselves. Re-exports only.
 */
export * from './auth/index.js'
export type { AppServerMethods } from './methods/create-app-server-methods.js'
export { createAppServerMethods } from './methods/create-app-server-methods.js'
export type { AppServerServices } from './methods/services.js'
export {
  OVERLOADED_MESSAGE,
  RPC_ERROR_CODES,
  RpcError,
  type RpcErrorCode,
} from './rpc/rpc-error.js'
export type { RpcContext, RpcId, RpcMethod, RpcMethods } from './rpc/rpc-method.js'
export type { RunningAppServer, StartAppServerOptions } from './server/app-server-options.js'
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  startAppServer,
} from './server/start-app-server.js'
