/**
 * The tokens a sign-in or a refresh yields, as the rest of the broker sees them: every token a `Secret`.
 */
import type { Secret } from '../lib/index.js'

/** The tokens of a successful authorization-code exchange (all three are required, PROTOCOL.md §2). */
export interface TokenSet {
  idToken: Secret
  accessToken: Secret
  refreshToken: Secret
  /** `expires_in` seconds, when the issuer sent it. */
  expiresIn: number | null
}

/**
 * The answer to a refresh (PROTOCOL.md §4): each present field replaces the stored one; a missing
 * `refreshToken` keeps the old one (RFC 6749 §6).
 */
export interface RefreshedTokens {
  idToken: Secret | null
  accessToken: Secret | null
  refreshToken: Secret | null
}

/** Why the refresh happened, sent as `refresh_reason`. */
export type RefreshReason = 'proactive_expiry' | 'scheduled' | 'unauthorized_recovery' | 'forced'

/** Where the issuer is and who we are to it. */
export interface IssuerConfig {
  /** Base URL, `https://auth.openai.com` by default. Plain `http:` is accepted only for loopback hosts. */
  issuer: string
  /** The OAuth client id (the Codex CLI's public client by default). */
  clientId: string
  /** The fetch to use (tests inject one); defaults to the global fetch. */
  fetch?: typeof fetch
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number
}
