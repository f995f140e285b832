/**
 * Reading the claims of the issuer's tokens (PROTOCOL.md §5). The tokens come straight from the issuer's token
 * endpoint over TLS, so their signatures are not checked here (OIDC Core §3.1.3.7); what matters is that a
 * malformed token fails clearly instead of producing an account with no id.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
import { z } from 'zod'
import { BrokerError, type Secret } from '../lib/index.js'

const AUTH_CLAIM = 'https://api.openai.com/auth'
const PROFILE_CLAIM = 'https://api.openai.com/profile'

/** Plans the broker knows; anything else is reported as `unknown`. */
export const KNOWN_PLANS = [
  'free',
  'go',
  'plus',
  'pro',
  'team',
  'business',
  'enterprise',
  'edu',
] as const

/** A ChatGPT plan type, or `unknown`. */
export type PlanType = (typeof KNOWN_PLANS)[number] | 'unknown'

const authClaimsSchema = z
  .object({
    chatgpt_account_id: z.string().min(1).optional(),
    chatgpt_plan_type: z.string().optional(),
    chatgpt_user_id: z.string().optional(),
    user_id: z.string().optional(),
    organization_id: z.string().optional(),
    project_id: z.string().optional(),
    is_org_owner: z.boolean().optional(),
  })
  .loose()

const payloadSchema = z
  .object({
    email: z.string().optional(),
    exp: z.number().optional(),
    [PROFILE_CLAIM]: z.object({ email: z.string().optional() }).loose().optional(),
    [AUTH_CLAIM]: authClaimsSchema.optional(),
  })
  .loose()

/** What the broker reads from an id token. */
export interface IdTokenClaims {
  email: string | null
  chatgptAccountId: string
  planType: PlanType
  userId: string | null
  organizationId: string | null
  projectId: string | null
  isOrgOwner: boolean
  /** `exp` in unix milliseconds, or null. */
  expiresAt: number | null
}

/** What the broker reads from an access token. */
export interface AccessTokenClaims {
  chatgptAccountId: string | null
  planType: PlanType
  /** `exp` in unix milliseconds, or null when the token has none. */
  expiresAt: number | null
}

/**
 * Reads an id token's claims. Throws `ERR_UPSTREAM_BAD_RESPONSE` when the token is not a JWT or has no
 * `chatgpt_account_id`.
 * @example
 * const { chatgptAccountId, email, planType } = parseIdTokenClaims(tokens.idToken)
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
export function parseIdTokenClaims(idToken: Secret | string): IdTokenClaims {
  const payload = decodePayload(idToken, 'id token')
  const auth = payload[AUTH_CLAIM] ?? {}
  const accountId = auth.chatgpt_account_id
  if (accountId === undefined) {
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      'The id token has no chatgpt_account_id claim; this does not look like a ChatGPT sign-in.',
      {
        hint: 'Sign in again with codex-broker login; if it persists, the issuer URL may be wrong.',
      },
    )
  }
  return {
    email: payload.email ?? payload[PROFILE_CLAIM]?.email ?? null,
    chatgptAccountId: accountId,
    planType: planTypeOf(auth.chatgpt_plan_type),
    userId: auth.chatgpt_user_id ?? auth.user_id ?? null,
    organizationId: auth.organization_id ?? null,
    projectId: auth.project_id ?? null,
    isOrgOwner: auth.is_org_owner ?? false,
    expiresAt: payload.exp === undefined ? null : payload.exp * 1000,
  }
}

/**
 * Reads an access token's claims. Throws `ERR_UPSTREAM_BAD_RESPONSE` when it is not a JWT.
 * @example
 * const { expiresAt } = parseAccessTokenClaims(tokens.accessToken)
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export function parseAccessTokenClaims(accessToken: Secret | string): AccessTokenClaims {
  const payload = decodePayload(accessToken, 'access token')
  const auth = payload[AUTH_CLAIM]
  return {
    chatgptAccountId: auth?.chatgpt_account_id ?? null,
    planType: planTypeOf(auth?.chatgpt_plan_type),
    expiresAt: payload.exp === undefined ? null : payload.exp * 1000,
  }
}

/**
 * A plan string as the broker reports it.
 * @example
 * planTypeOf('PRO') // 'pro'
 * planTypeOf('platinum') // 'unknown'
 * @see PROTOCOL.md §5 (the plan claim)
 */
export function planTypeOf(value: string | undefined): PlanType {
  const plan = value?.toLowerCase()
  return (KNOWN_PLANS as readonly string[]).includes(plan ?? '') ? (plan as PlanType) : 'unknown'
}

function decodePayload(token: Secret | string, what: string): z.output<typeof payloadSchema> {
  const text = typeof token === 'string' ? token : token.reveal()
  const segments = text.split('.')
  const payloadSegment = segments[1]
  if (
    segments.length !== 3 ||
    payloadSegment === undefined ||
    !/^[A-Za-z0-9_-]+$/.test(payloadSegment)
  ) {
    throw malformed(what, 'it is not a three-part JWT')
  }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(payloadSegment, 'base64url').toString('utf8'))
  } catch (error) {
    throw malformed(what, 'its payload is not JSON', error)
  }
  const parsed = payloadSchema.safeParse(json)
  if (!parsed.success) throw malformed(what, 'its claims have unexpected types', parsed.error)
  return parsed.data
}

function malformed(what: string, why: string, cause?: unknown): BrokerError {
  return new BrokerError(
    'ERR_UPSTREAM_BAD_RESPONSE',
    `The issuer sent a malformed ${what}: ${why}.`,
    {
      cause,
      hint: 'Sign in again with codex-broker login; if it persists, the issuer URL may be wrong.',
    },
  )
}
