/**
 * The simulator's whole memory: accounts, authorization codes, device authorizations, refresh-token families,
 * access tokens, API keys, quotas, injected faults, counters and recorded requests. Route handlers change it only
 * through these methods, so the rules of PROTOCOL.md (single-use codes, strict refresh rotation with reuse
 * detection and family revocation) live in one place.
 */
import type { JwtSigner } from './jwt.js'
import { randomId, randomSecret, randomUserCode } from './random.js'
import type {
  SimAccount,
  SimConfig,
  SimCounters,
  SimFault,
  SimFaultKind,
  SimPlan,
  SimQuota,
  SimRecordedRequest,
} from './types.js'

/** The Codex CLI's public OAuth client id (PROTOCOL.md §1). */
export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann'

/** The scope the Codex CLI asks for. */
export const CODEX_SCOPE =
  'openid profile email offline_access api.connectors.read api.connectors.invoke'

/** An authorization code waiting to be exchanged. */
export interface AuthCodeRecord {
  clientId: string
  redirectUri: string
  codeChallenge: string
  accountId: string
  expiresAt: number
  used: boolean
  /** The token family issued from this code, so a replayed code can revoke it (RFC 6749 §4.1.2). */
  familyId: string | null
}

/** A refresh token and where it stands in its family's rotation. */
export interface RefreshTokenRecord {
  familyId: string
  accountId: string
  state: 'active' | 'used'
  expiresAt: number
}

/** Every token issued from one sign-in shares a family; revoking it kills them all. */
export interface TokenFamily {
  accountId: string
  revoked: boolean
}

/** An issued access token. */
export interface AccessTokenRecord {
  familyId: string
  accountId: string
  /** Expiry, unix milliseconds. */
  expiresAt: number
}

/** An issued id token, so the token exchange can tell its own id tokens from forged ones. */
export interface IdTokenRecord {
  familyId: string
  accountId: string
  /** Expiry, unix milliseconds. */
  expiresAt: number
}

/** A device-code authorization in progress. */
export interface DeviceAuthRecord {
  deviceAuthId: string
  userCode: string
  expiresAt: number
  /** Set once a person approves the code. */
  accountId: string | null
  /** The PKCE pair the server hands out on success (PROTOCOL.md §3). */
  codeVerifier: string
  codeChallenge: string
  /** The authorization code minted at approval. */
  authorizationCode: string | null
  /** Set once a poll has handed the authorization code out; later polls are refused. */
  redeemed: boolean
}

/** The tokens of one successful grant. */
export interface IssuedTokens {
  idToken: string
  accessToken: string
  refreshToken: string
  expiresIn: number
}

/** Why a bearer token was refused by the backend. */
export type AccessTokenCheck =
  | { ok: true; accountId: string }
  | { ok: false; reason: 'missing' | 'unknown' | 'expired' | 'revoked' }

/** The outcome of presenting a refresh token. */
export type RefreshOutcome =
  | { ok: true; tokens: IssuedTokens }
  | {
      ok: false
      code:
        | 'refresh_token_reused'
        | 'refresh_token_expired'
        | 'refresh_token_invalidated'
        | 'invalid_grant'
    }

const RECORDS_PER_ROUTE = 100
const MAX_ISSUED = 200_000

/** Options that shape a fresh state; `reset()` returns to them. */
export interface SimStateOptions {
  issuer: string
  /** Redirect URIs registered for the Codex client (exact match; the device callback is always allowed). */
  redirectUris: readonly string[]
  config: SimConfig
  accounts: readonly { email: string; plan?: SimPlan; deviceAuthEnabled?: boolean }[]
  now: () => number
  signer: JwtSigner
}

/** The mutable world of one simulator. */
export class SimState {
  readonly issuer: string
  readonly redirectUris: readonly string[]
  readonly signer: JwtSigner
  readonly now: () => number
  config: SimConfig
  readonly accounts = new Map<string, SimAccount>()
  readonly authCodes = new Map<string, AuthCodeRecord>()
  readonly refreshTokens = new Map<string, RefreshTokenRecord>()
  readonly families = new Map<string, TokenFamily>()
  readonly accessTokens = new Map<string, AccessTokenRecord>()
  readonly idTokens = new Map<string, IdTokenRecord>()
  readonly deviceAuths = new Map<string, DeviceAuthRecord>()
  readonly apiKeys = new Map<string, { accountId: string | null }>()
  counters: SimCounters = emptyCounters()
  private faults: SimFault[] = []
  private records = new Map<string, SimRecordedRequest[]>()
  private issuedSecrets: string[] = []
  private readonly initial: SimStateOptions

  constructor(options: SimStateOptions) {
    this.initial = options
    this.issuer = options.issuer
    this.redirectUris = options.redirectUris
    this.signer = options.signer
    this.now = options.now
    this.config = { ...options.config }
    for (const account of options.accounts) this.addAccount(account)
  }

  /** Forgets everything and returns to the options the simulator started with. */
  reset(): void {
    this.config = { ...this.initial.config }
    for (const map of [
      this.accounts,
      this.authCodes,
      this.refreshTokens,
      this.families,
      this.accessTokens,
      this.idTokens,
      this.deviceAuths,
      this.apiKeys,
    ]) {
      map.clear()
    }
    this.counters = emptyCounters()
    this.faults = []
    this.records = new Map()
    this.issuedSecrets = []
    for (const account of this.initial.accounts) this.addAccount(account)
  }

  // ── accounts and quota ────────────────────────────────────────────────────────────────────────

  /** Adds an account, or returns the existing one with that email. */
  addAccount(input: {
    email: string
    plan?: SimPlan | undefined
    deviceAuthEnabled?: boolean | undefined
  }): SimAccount {
    const existing = this.findAccountByEmail(input.email)
    if (existing) return existing
    const nowSeconds = Math.floor(this.now() / 1000)
    const account: SimAccount = {
      accountId: randomId(),
      userId: `user-${randomSecret('', 12)}`,
      organizationId: `org-${randomSecret('', 12)}`,
      email: input.email,
      plan: input.plan ?? 'plus',
      deviceAuthEnabled: input.deviceAuthEnabled ?? true,
      quota: {
        primaryUsedPercent: 0,
        secondaryUsedPercent: 0,
        primaryWindowMinutes: 300,
        secondaryWindowMinutes: 10_080,
        primaryResetAt: nowSeconds + 300 * 60,
        secondaryResetAt: nowSeconds + 10_080 * 60,
      },
    }
    this.accounts.set(account.accountId, account)
    return account
  }

  /** The account with this email (case-insensitive), if any. */
  findAccountByEmail(email: string): SimAccount | undefined {
    const wanted = email.toLowerCase()
    for (const account of this.accounts.values()) {
      if (account.email.toLowerCase() === wanted) return account
    }
    return undefined
  }

  /**
   * The account's quota as of now: a window whose reset time has passed starts over at 0 %, as the real
   * service's windows do, so a test can wait out a 429.
   */
  currentQuota(account: SimAccount): SimQuota {
    const nowSeconds = Math.floor(this.now() / 1000)
    const quota = account.quota
    if (quota.primaryResetAt <= nowSeconds) {
      quota.primaryUsedPercent = 0
      quota.primaryResetAt = nextReset(quota.primaryResetAt, quota.primaryWindowMinutes, nowSeconds)
    }
    if (quota.secondaryResetAt <= nowSeconds) {
      quota.secondaryUsedPercent = 0
      quota.secondaryResetAt = nextReset(
        quota.secondaryResetAt,
        quota.secondaryWindowMinutes,
        nowSeconds,
      )
    }
    return quota
  }

  // ── secrets ───────────────────────────────────────────────────────────────────────────────────

  /** Remembers a secret it handed out, for leak scans. */
  noteIssued(secret: string): void {
    this.issuedSecrets.push(secret)
    if (this.issuedSecrets.length > MAX_ISSUED) this.issuedSecrets.splice(0, 1_000)
  }

  /** Every secret issued since the last reset (bounded to the newest 200,000). */
  issued(): string[] {
    return [...this.issuedSecrets]
  }

  /** Mints a single-use authorization code bound to the PKCE challenge and redirect URI. */
  createAuthCode(input: Omit<AuthCodeRecord, 'expiresAt' | 'used' | 'familyId'>): string {
    const code = randomSecret('ac_', 32)
    this.authCodes.set(code, {
      ...input,
      expiresAt: this.now() + this.config.authCodeTtlSeconds * 1000,
      used: false,
      familyId: null,
    })
    this.noteIssued(code)
    return code
  }

  /** Issues an id, access and refresh token; a new family unless `familyId` continues one. */
  issueTokens(accountId: string, familyId: string = randomId()): IssuedTokens {
    const account = this.accounts.get(accountId)
    if (!account) throw new Error(`unknown account ${accountId}`)
    if (!this.families.has(familyId)) this.families.set(familyId, { accountId, revoked: false })
    const nowMs = this.now()
    const iat = Math.floor(nowMs / 1000)
    const ttl = this.config.accessTokenTtlSeconds
    const exp = iat + ttl
    const authClaims = {
      chatgpt_account_id: account.accountId,
      chatgpt_plan_type: account.plan,
      chatgpt_user_id: account.userId,
      user_id: account.userId,
    }
    const idToken = this.signer.sign({
      iss: this.issuer,
      aud: [CODEX_CLIENT_ID],
      sub: account.userId,
      email: account.email,
      email_verified: true,
      iat,
      auth_time: iat,
      exp,
      'https://api.openai.com/profile': { email: account.email, email_verified: true },
      'https://api.openai.com/auth': {
        ...authClaims,
        organization_id: account.organizationId,
        organizations: [{ id: account.organizationId, is_default: true, role: 'owner' }],
        is_org_owner: true,
      },
    })
    const accessToken = this.signer.sign({
      iss: this.issuer,
      aud: ['https://api.openai.com/v1'],
      client_id: CODEX_CLIENT_ID,
      sub: account.userId,
      iat,
      nbf: iat,
      exp,
      jti: randomId(),
      scp: CODEX_SCOPE.split(' '),
      'https://api.openai.com/profile': { email: account.email, email_verified: true },
      'https://api.openai.com/auth': authClaims,
    })
    const refreshToken = randomSecret('rt_', 48)
    this.accessTokens.set(accessToken, { familyId, accountId, expiresAt: exp * 1000 })
    this.idTokens.set(idToken, { familyId, accountId, expiresAt: exp * 1000 })
    this.refreshTokens.set(refreshToken, {
      familyId,
      accountId,
      state: 'active',
      expiresAt: nowMs + this.config.refreshTokenTtlSeconds * 1000,
    })
    this.noteIssued(idToken)
    this.noteIssued(accessToken)
    this.noteIssued(refreshToken)
    return { idToken, accessToken, refreshToken, expiresIn: ttl }
  }

  /**
   * Strict rotation: an active refresh token is spent and replaced; a spent one is reuse, which revokes the
   * whole family (every access token of it stops working too).
   */
  refresh(refreshToken: string): RefreshOutcome {
    const record = this.refreshTokens.get(refreshToken)
    if (!record) return { ok: false, code: 'invalid_grant' }
    const family = this.families.get(record.familyId)
    if (!family || family.revoked) return { ok: false, code: 'refresh_token_invalidated' }
    if (record.state === 'used') {
      this.counters.reuseEvents += 1
      this.revokeFamily(record.familyId)
      return { ok: false, code: 'refresh_token_reused' }
    }
    if (record.expiresAt <= this.now()) return { ok: false, code: 'refresh_token_expired' }
    record.state = 'used'
    return { ok: true, tokens: this.issueTokens(record.accountId, record.familyId) }
  }

  /** Revokes a family; answers whether it was live before. */
  revokeFamily(familyId: string): boolean {
    const family = this.families.get(familyId)
    if (!family || family.revoked) return false
    family.revoked = true
    this.counters.revokedFamilies += 1
    return true
  }

  /** Revokes every family of an account ("signed out everywhere"); answers how many were live. */
  revokeAccount(accountId: string): number {
    let revoked = 0
    for (const [familyId, family] of this.families) {
      if (family.accountId === accountId && this.revokeFamily(familyId)) revoked += 1
    }
    return revoked
  }

  /** Checks a backend bearer token: ours, unexpired, family not revoked. */
  checkAccessToken(token: string | null): AccessTokenCheck {
    if (!token) return { ok: false, reason: 'missing' }
    const record = this.accessTokens.get(token)
    if (!record) return { ok: false, reason: 'unknown' }
    if (this.families.get(record.familyId)?.revoked !== false)
      return { ok: false, reason: 'revoked' }
    if (record.expiresAt <= this.now()) return { ok: false, reason: 'expired' }
    return { ok: true, accountId: record.accountId }
  }

  /** Checks an id token presented for the token exchange: ours, unexpired, family not revoked. */
  checkIdToken(token: string): AccessTokenCheck {
    const record = this.idTokens.get(token)
    if (!record) return { ok: false, reason: 'unknown' }
    if (this.families.get(record.familyId)?.revoked !== false)
      return { ok: false, reason: 'revoked' }
    if (record.expiresAt <= this.now()) return { ok: false, reason: 'expired' }
    return { ok: true, accountId: record.accountId }
  }

  /** Mints an OpenAI API key (token exchange, or `control.createApiKey`). */
  createApiKey(accountId: string | null): string {
    const apiKey = randomSecret('sk-proj-', 36)
    this.apiKeys.set(apiKey, { accountId })
    this.noteIssued(apiKey)
    return apiKey
  }

  /** Starts a device authorization (PROTOCOL.md §3). */
  createDeviceAuth(codeVerifier: string, codeChallenge: string): DeviceAuthRecord {
    const record: DeviceAuthRecord = {
      deviceAuthId: randomSecret('deviceauth_', 24),
      userCode: randomUserCode(),
      expiresAt: this.now() + this.config.deviceCodeTtlSeconds * 1000,
      accountId: null,
      codeVerifier,
      codeChallenge,
      authorizationCode: null,
      redeemed: false,
    }
    this.deviceAuths.set(record.deviceAuthId, record)
    this.noteIssued(record.deviceAuthId)
    this.noteIssued(codeVerifier)
    return record
  }

  /** The pending device authorization with this user code (case- and dash-insensitive). */
  findDeviceAuthByUserCode(userCode: string): DeviceAuthRecord | undefined {
    const wanted = normaliseUserCode(userCode)
    for (const record of this.deviceAuths.values()) {
      if (normaliseUserCode(record.userCode) === wanted) return record
    }
    return undefined
  }

  // ── faults, counters, recorded requests ───────────────────────────────────────────────────────

  /** Queues a fault for the next `count` requests to `route`. */
  addFault(fault: SimFault): void {
    this.faults.push({ ...fault })
  }

  /** Takes the next fault for `route`, if one is queued, and spends one of its uses. */
  takeFault(route: string): SimFaultKind | null {
    const index = this.faults.findIndex((fault) => fault.route === route)
    if (index < 0) return null
    const fault = this.faults[index]
    if (!fault) return null
    fault.count -= 1
    if (fault.count <= 0) this.faults.splice(index, 1)
    return fault.kind
  }

  /** Counts and records one request; returns the record so the handler can attach the body. */
  record(request: Omit<SimRecordedRequest, 'at' | 'body'>): SimRecordedRequest {
    this.counters.requests[request.route] = (this.counters.requests[request.route] ?? 0) + 1
    const recorded: SimRecordedRequest = { ...request, body: null, at: this.now() }
    let list = this.records.get(request.route)
    if (!list) {
      list = []
      this.records.set(request.route, list)
    }
    list.push(recorded)
    if (list.length > RECORDS_PER_ROUTE) list.shift()
    return recorded
  }

  /** The newest recorded requests, for one route or all. */
  recordedRequests(route?: string): SimRecordedRequest[] {
    if (route !== undefined) return [...(this.records.get(route) ?? [])]
    return [...this.records.values()].flat().sort((a, b) => a.at - b.at)
  }

  /** A deep copy of the counters. */
  snapshotCounters(): SimCounters {
    return structuredClone(this.counters)
  }
}

function emptyCounters(): SimCounters {
  return {
    tokenCalls: 0,
    refreshCalls: 0,
    reuseEvents: 0,
    revokedFamilies: 0,
    requests: {},
    responsesByAccount: {},
  }
}

function nextReset(resetAt: number, windowMinutes: number, nowSeconds: number): number {
  const windowSeconds = windowMinutes * 60
  const periods = Math.floor((nowSeconds - resetAt) / windowSeconds) + 1
  return resetAt + periods * windowSeconds
}

function normaliseUserCode(code: string): string {
  return code.replace(/[^a-z0-9]/gi, '').toUpperCase()
}
