/**
 * The optional API-key exchange of the browser sign-in (PROTOCOL.md §2): an RFC 8693 token exchange at
 * `{issuer}/oauth/token` that trades the fresh id token for an OpenAI API key (`sk-…`), as the Codex CLI does when
 * asked. It is best effort — the sign-in succeeds without it — and the key comes back as a `Secret`.
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
import { z } from 'zod'
import { BrokerError, Secret } from '../lib/index.js'
import { issuerEndpoint } from './endpoint-url.js'
import { grantRefused } from './issuer-error.js'
import { formRequest, readIssuerReply, refuseRedirect, sendToIssuer } from './issuer-http.js'
import type { IssuerConfig } from './token-response.js'

/** The token-exchange grant type. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** The subject token type of an id token. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

const apiKeyResponseSchema = z.object({ access_token: z.string().min(1) }).loose()

/**
 * The token-exchange request, form encoded in the Codex CLI's field order.
 * @example
 * const request = buildApiKeyExchangeRequest(config, tokens.idToken)
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export function buildApiKeyExchangeRequest(config: IssuerConfig, idToken: Secret): Request {
  return formRequest(issuerEndpoint(config.issuer, '/oauth/token'), {
    grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
    client_id: config.clientId,
    requested_token: 'openai-api-key',
    subject_token: idToken.reveal(),
    subject_token_type: ID_TOKEN_TYPE,
  })
}

/**
 * Reads the API key out of the answer (`{access_token: "sk-…"}`).
 * @example
 * const apiKey = await processApiKeyExchangeResponse(response)
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2
 */
export async function processApiKeyExchangeResponse(response: Response): Promise<Secret> {
  const what = 'API key exchange'
  await refuseRedirect(response, what)
  const reply = await readIssuerReply(response, what)
  if (reply.status < 200 || reply.status > 299) throw grantRefused(what, reply.status, reply.json)
  const parsed = apiKeyResponseSchema.safeParse(reply.json)
  if (!parsed.success) {
    throw new BrokerError(
      'ERR_UPSTREAM_BAD_RESPONSE',
      `The issuer's answer to the ${what} has no access_token.`,
    )
  }
  return Secret.from(parsed.data.access_token)
}

/**
 * Trades an id token for an OpenAI API key.
 * @example
 * const apiKey = await exchangeForApiKey(config, tokens.idToken)
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 */
export async function exchangeForApiKey(config: IssuerConfig, idToken: Secret): Promise<Secret> {
  const request = buildApiKeyExchangeRequest(config, idToken)
  return processApiKeyExchangeResponse(await sendToIssuer(config, request, 'API key exchange'))
}
