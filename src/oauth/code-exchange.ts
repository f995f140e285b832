/**
 * The authorization-code grant (PROTOCOL.md §2, and §3 step 4 for the device flow): a form `POST` to
 * `{issuer}/oauth/token` with the code, the exact redirect URI and the PKCE verifier, answered by
 * `{id_token, access_token, refresh_token, expires_in?}`. All three tokens are required. The request builder
 * and the response processor are separate so tests can feed recorded answers to the processor.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.5
 */
import { z } from 'zod'
import { BrokerError, Secret } from '../lib/index.js'
import { issuerEndpoint } from './endpoint-url.js'
import { grantRefused } from './issuer-error.js'
import { formRequest, readIssuerReply, refuseRedirect, sendToIssuer } from './issuer-http.js'
import type { IssuerConfig, TokenSet } from './token-response.js'

/** What the code exchange needs. */
export interface CodeExchangeInput {
  /** The authorization code from the callback (or the device flow). */
  code: Secret | string
  /** The redirect URI of the authorization request, byte for byte. */
  redirectUri: string
  /** The PKCE verifier of the authorization request. */
  codeVerifier: Secret | string
}

const tokenResponseSchema = z
  .object({
    id_token: z.string().min(1),
    access_token: z.string().min(1),
    refresh_token: z.string().min(1),
    expires_in: z.number().nonnegative().optional().catch(undefined),
  })
  .loose()

/**
 * The token request of the code exchange (form encoded, in the Codex CLI's field order).
 * @example
 * const request = buildCodeExchangeRequest(config, { code, redirectUri, codeVerifier })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export function buildCodeExchangeRequest(config: IssuerConfig, input: CodeExchangeInput): Request {
  return formRequest(issuerEndpoint(config.issuer, '/oauth/token'), {
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code: reveal(input.code),
    redirect_uri: input.redirectUri,
    code_verifier: reveal(input.codeVerifier),
  })
}

/**
 * Turns the token endpoint's answer into a `TokenSet`. A 5xx is `ERR_UPSTREAM_UNAVAILABLE`, any other refusal
 * `ERR_UPSTREAM_UNAUTHORIZED` with the issuer's short detail, a redirect or a 2xx without all three tokens
 * `ERR_UPSTREAM_BAD_RESPONSE`.
 * @example
 * const tokens = await processCodeExchangeResponse(await fetch(buildCodeExchangeRequest(config, input)))
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export async function processCodeExchangeResponse(response: Response): Promise<TokenSet> {
  const what = 'authorization code exchange'
  await refuseRedirect(response, what)
  const reply = await readIssuerReply(response, what)
  if (reply.status < 200 || reply.status > 299) throw grantRefused(what, reply.status, reply.json)
  const parsed = tokenResponseSchema.safeParse(reply.json)
  if (!parsed.success) {
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The issuer's answer to the ${what} is not a token response with id_token, access_token and refresh_token.`,
      { hint: 'Start the sign-in again; if it persists, the issuer URL may be wrong.' },
    )
  }
  return {
    idToken: Secret.from(parsed.data.id_token),
    accessToken: Secret.from(parsed.data.access_token),
    refreshToken: Secret.from(parsed.data.refresh_token),
    expiresIn: parsed.data.expires_in ?? null,
  }
}

/**
 * Exchanges an authorization code for the three tokens (one request, never retried: a code is single use).
 * @example
 * const tokens = await exchangeAuthorizationCode(config, { code, redirectUri, codeVerifier })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export async function exchangeAuthorizationCode(
  config: IssuerConfig,
  input: CodeExchangeInput,
): Promise<TokenSet> {
  const request = buildCodeExchangeRequest(config, input)
  const response = await sendToIssuer(config, request, 'authorization code exchange')
  return processCodeExchangeResponse(response)
}

function reveal(value: Secret | string): string {
  return typeof value === 'string' ? value : value.reveal()
}
