/**
 * The WebSocket JSON-RPC app-server (issue #6). So far: the authentication of the upgrade.
 * Re-exports only.
 */
export * from './auth/index.js'
