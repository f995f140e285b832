/**
 * Authentication of the app-server's WebSocket upgrade: capability tokens, signed bearer tokens
 * (HS256 JWTs) and the header check that picks between them. Re-exports only.
 */
export {
  type CapabilityVerifier,
  capabilityFromSha256,
  generateCapabilityToken,
  loadCapabilityTokenFile,
} from './capability-token.js'
export { hasDuplicateKeys } from './duplicate-keys.js'
export { MAX_JWT_LENGTH, isWellFormedJwt } from './jwt-shape.js'
export { type JwtFailureReason, WS_AUTH_REASONS, type WsAuthReason } from './reasons.js'
export {
  DEFAULT_MAX_CLOCK_SKEW_SECONDS,
  type JwtResult,
  type JwtVerifier,
  type JwtVerifierOptions,
  MIN_SHARED_SECRET_BYTES,
  type WsJwtClaims,
  createJwtVerifier,
  loadSharedSecretFile,
} from './signed-bearer.js'
export { type UpgradeAuthResult, type WsAuthMode, authenticateUpgrade } from './upgrade-auth.js'
