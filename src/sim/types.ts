/**
 * The simulator's public data shapes: its configuration, its accounts and quotas, the faults it can inject
 * and the counters it keeps. Tests and the CLI talk to the simulator in these terms, in process (`control.*`)
 * or over HTTP (`/__sim/*`), so both surfaces share one definition.
 */

/** ChatGPT plan types the issuer can put in a token (PROTOCOL.md §5). */
export type SimPlan = 'free' | 'go' | 'plus' | 'pro' | 'team' | 'business' | 'enterprise' | 'edu'

/** Every plan the simulator knows, in a stable order. */
export const SIM_PLANS: readonly SimPlan[] = [
  'free',
  'go',
  'plus',
  'pro',
  'team',
  'business',
  'enterprise',
  'edu',
]

/** Tunable behaviour; every field can be changed at run time through `control.configure`. */
export interface SimConfig {
  /** Lifetime of issued access and id tokens. */
  accessTokenTtlSeconds: number
  /** Lifetime of refresh tokens (an older one answers `refresh_token_expired`). */
  refreshTokenTtlSeconds: number
  /** Lifetime of authorization codes. */
  authCodeTtlSeconds: number
  /** When set, `/oauth/authorize` signs this email in at once and redirects (no HTML page). */
  autoApprove: string | null
  /** How many `response.output_text.delta` events a streamed answer has. */
  streamChunks: number
  /** Pause between streamed events, in milliseconds. */
  streamDelayMs: number
  /** Pause between events while a `slow` fault is active. */
  slowStreamDelayMs: number
  /** Device codes expire after this many seconds (15 minutes like the real issuer). */
  deviceCodeTtlSeconds: number
  /** The `interval` the device-code endpoint announces (a string on the wire). */
  devicePollIntervalSeconds: number
  /** Where a `redirect` fault points. */
  redirectFaultLocation: string
}

/** Fault kinds the simulator can inject on a route (`POST /__sim/faults`). */
export type SimFaultKind = '500' | '401' | 'cloudflare' | 'cut' | 'slow' | 'redirect'

/** All fault kinds, for validation. */
export const SIM_FAULT_KINDS: readonly SimFaultKind[] = [
  '500',
  '401',
  'cloudflare',
  'cut',
  'slow',
  'redirect',
]

/** An injected fault: the next `count` requests to `route` (a path such as `/oauth/token`) get `kind`. */
export interface SimFault {
  route: string
  kind: SimFaultKind
  count: number
}

/** Usage of one rate-limit window of an account, in percent. */
export interface SimQuota {
  primaryUsedPercent: number
  secondaryUsedPercent: number
  /** Primary window length (the 5-hour window). */
  primaryWindowMinutes: number
  /** Secondary window length (the 7-day window). */
  secondaryWindowMinutes: number
  /** Absolute reset time of the primary window, unix seconds. */
  primaryResetAt: number
  /** Absolute reset time of the secondary window, unix seconds. */
  secondaryResetAt: number
}

/** A ChatGPT account the simulator can sign in. */
export interface SimAccount {
  accountId: string
  userId: string
  organizationId: string
  email: string
  plan: SimPlan
  deviceAuthEnabled: boolean
  quota: SimQuota
}

/** What `POST /__sim/accounts` answers. */
export interface SimAccountSummary {
  accountId: string
  email: string
  plan: SimPlan
}

/** One recorded request, for `GET /__sim/requests?route=R`. */
export interface SimRecordedRequest {
  method: string
  route: string
  /** Path and query as received. */
  url: string
  headers: Record<string, string | string[]>
  /** The request body as text, when the route read one. */
  body: string | null
  at: number
}

/** The counters of `GET /__sim/counters`. */
export interface SimCounters {
  /** Every call to `/oauth/token`, whatever the grant. */
  tokenCalls: number
  /** `refresh_token` grants only. */
  refreshCalls: number
  /** Presentations of an already-used refresh token. */
  reuseEvents: number
  /** Token families revoked (by reuse detection, `/oauth/revoke` or `control.revokeAccount`). */
  revokedFamilies: number
  /** Requests per route path. */
  requests: Record<string, number>
  /** Answered `codex/responses` requests per account id. */
  responsesByAccount: Record<string, number>
}
