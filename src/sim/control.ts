/**
 * The simulator's control surface, in process. Tests create accounts, tune token lifetimes and streams, set
 * quotas, inject faults, approve device codes and read counters through it; `/__sim/*` exposes the same
 * operations over HTTP (see control-routes.ts), with the same validation.
 */
import { z } from 'zod'
import { CODEX_CLIENT_ID, type SimState } from './state.js'
import {
  SIM_FAULT_KINDS,
  SIM_PLANS,
  type SimAccountSummary,
  type SimConfig,
  type SimCounters,
  type SimRecordedRequest,
} from './types.js'

const email = z.string().trim().min(3).max(320).includes('@')

/** Body of `POST /__sim/accounts`. */
export const addAccountSchema = z.strictObject({
  email,
  plan: z.enum(SIM_PLANS).optional(),
  deviceAuthEnabled: z.boolean().optional(),
})

/** Body of `POST /__sim/config`. */
export const configureSchema = z.strictObject({
  accessTokenTtlSeconds: z.number().int().min(1).max(31_536_000).optional(),
  refreshTokenTtlSeconds: z.number().int().min(1).max(31_536_000).optional(),
  authCodeTtlSeconds: z.number().int().min(1).max(3_600).optional(),
  autoApprove: email.nullable().optional(),
  streamChunks: z.number().int().min(1).max(100_000).optional(),
  streamDelayMs: z.number().int().min(0).max(60_000).optional(),
  slowStreamDelayMs: z.number().int().min(0).max(60_000).optional(),
  deviceCodeTtlSeconds: z.number().int().min(1).max(3_600).optional(),
  devicePollIntervalSeconds: z.number().int().min(0).max(60).optional(),
  redirectFaultLocation: z.url().optional(),
})

/** Body of `POST /__sim/quota`. */
export const setQuotaSchema = z.strictObject({
  accountId: z.string().min(1),
  primaryUsedPercent: z.number().min(0).max(100).optional(),
  secondaryUsedPercent: z.number().min(0).max(100).optional(),
  resetsInSeconds: z.number().int().min(1).max(31_536_000).optional(),
})

/** Body of `POST /__sim/faults`. */
export const injectFaultSchema = z.strictObject({
  route: z.string().startsWith('/'),
  kind: z.enum(SIM_FAULT_KINDS),
  count: z.number().int().min(1).max(1_000_000).optional(),
})

/** Body of `POST /__sim/device/approve`. */
export const approveDeviceSchema = z.strictObject({ userCode: z.string().min(1), email })

/** Body of `POST /__sim/api-keys`. */
export const createApiKeySchema = z.strictObject({ accountId: z.string().min(1).optional() })

/** Body of `POST /__sim/revoke`. */
export const revokeAccountSchema = z.strictObject({ accountId: z.string().min(1) })

/** A control operation was refused: bad input, or an unknown account or code. */
export class SimControlError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message)
    this.name = 'SimControlError'
  }
}

/** In-process control of one simulator. */
export class SimControl {
  constructor(private readonly state: SimState) {}

  /** Adds a ChatGPT account (or returns the one with that email). */
  addAccount(input: z.input<typeof addAccountSchema>): SimAccountSummary {
    const account = this.state.addAccount(parse(addAccountSchema, input))
    return { accountId: account.accountId, email: account.email, plan: account.plan }
  }

  /** Lists the accounts. */
  accounts(): SimAccountSummary[] {
    return [...this.state.accounts.values()].map((account) => ({
      accountId: account.accountId,
      email: account.email,
      plan: account.plan,
    }))
  }

  /** Changes run-time behaviour; answers the whole configuration. */
  configure(input: z.input<typeof configureSchema>): SimConfig {
    const changes = parse(configureSchema, input)
    const next: SimConfig = { ...this.state.config }
    for (const [key, value] of Object.entries(changes)) {
      if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value
    }
    this.state.config = next
    return { ...next }
  }

  /** Sets an account's usage; `resetsInSeconds` moves the reset of every window it sets. */
  setQuota(input: z.input<typeof setQuotaSchema>): void {
    const { accountId, primaryUsedPercent, secondaryUsedPercent, resetsInSeconds } = parse(
      setQuotaSchema,
      input,
    )
    const account = this.state.accounts.get(accountId)
    if (!account) throw new SimControlError(`No account ${accountId}`, 404)
    const quota = this.state.currentQuota(account)
    const resetAt =
      resetsInSeconds === undefined
        ? undefined
        : Math.floor(this.state.now() / 1000) + resetsInSeconds
    if (primaryUsedPercent !== undefined) quota.primaryUsedPercent = primaryUsedPercent
    if (secondaryUsedPercent !== undefined) quota.secondaryUsedPercent = secondaryUsedPercent
    if (resetAt !== undefined) {
      if (primaryUsedPercent !== undefined || secondaryUsedPercent === undefined) {
        quota.primaryResetAt = resetAt
      }
      if (secondaryUsedPercent !== undefined) quota.secondaryResetAt = resetAt
    }
  }

  /** Queues a fault for the next `count` (default 1) requests to a route path. */
  injectFault(input: z.input<typeof injectFaultSchema>): void {
    const { route, kind, count } = parse(injectFaultSchema, input)
    this.state.addFault({ route, kind, count: count ?? 1 })
  }

  /** Approves a pending device code as the account with `email`, as a person would on `/codex/device`. */
  approveDevice(input: z.input<typeof approveDeviceSchema>): void {
    const { userCode, email: who } = parse(approveDeviceSchema, input)
    approveDeviceCode(this.state, userCode, who)
  }

  /** Mints an API key for `POST /v1/responses`. */
  createApiKey(input: z.input<typeof createApiKeySchema> = {}): { apiKey: string } {
    const { accountId } = parse(createApiKeySchema, input)
    return { apiKey: this.state.createApiKey(accountId ?? null) }
  }

  /** Revokes every token family of an account, as a password change or "sign out everywhere" would. */
  revokeAccount(input: z.input<typeof revokeAccountSchema>): { revokedFamilies: number } {
    const { accountId } = parse(revokeAccountSchema, input)
    if (!this.state.accounts.has(accountId))
      throw new SimControlError(`No account ${accountId}`, 404)
    return { revokedFamilies: this.state.revokeAccount(accountId) }
  }

  /** The counters since the last reset. */
  counters(): SimCounters {
    return this.state.snapshotCounters()
  }

  /** The newest recorded requests (100 per route), for one route path or all. */
  requests(route?: string): SimRecordedRequest[] {
    return this.state.recordedRequests(route)
  }

  /** Every secret issued since the last reset: tokens, codes, API keys, device ids and verifiers. */
  issued(): string[] {
    return this.state.issued()
  }

  /** Forgets everything and returns to the start options. */
  reset(): void {
    this.state.reset()
  }
}

/**
 * Approves a device code: shared by the control API and the `/codex/device` page, so both behave alike.
 * Throws `SimControlError` for an unknown or expired code or an unknown account.
 */
export function approveDeviceCode(state: SimState, userCode: string, email: string): void {
  const record = state.findDeviceAuthByUserCode(userCode)
  if (!record) throw new SimControlError(`No pending device code ${userCode}`, 404)
  if (record.expiresAt <= state.now())
    throw new SimControlError('That device code has expired', 409)
  // A second approval would mint a second authorization code and orphan the first, still valid, one.
  if (record.accountId !== null)
    throw new SimControlError('That device code was already approved', 409)
  const account = state.findAccountByEmail(email)
  if (!account) throw new SimControlError(`No account with email ${email}`, 404)
  if (!account.deviceAuthEnabled) {
    throw new SimControlError(
      'Device code sign-in is not enabled for this account; enable it in ChatGPT Settings → Security.',
      409,
    )
  }
  record.accountId = account.accountId
  record.authorizationCode = state.createAuthCode({
    clientId: CODEX_CLIENT_ID,
    redirectUri: `${state.issuer}/deviceauth/callback`,
    codeChallenge: record.codeChallenge,
    accountId: account.accountId,
  })
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input)
  if (!result.success) throw new SimControlError(z.prettifyError(result.error))
  return result.data
}
