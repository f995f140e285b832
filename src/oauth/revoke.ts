/**
 * "Sign out everywhere" (PROTOCOL.md §4): a JSON `POST` to `{issuer}/oauth/revoke` with
 * `{token, token_type_hint: "refresh_token", client_id}`. Revoking the refresh token ends the whole sign-in on
 * every machine that shares it, so only an explicit user request (`codex-broker logout --everywhere`) calls this;
 * a plain sign-out deletes local state only.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
import type { Secret } from '../lib/index.js'
import { issuerEndpoint } from './endpoint-url.js'
import { grantRefused } from './issuer-error.js'
import {
  discardBody,
  jsonRequest,
  readIssuerReply,
  refuseRedirect,
  sendToIssuer,
} from './issuer-http.js'
import type { IssuerConfig } from './token-response.js'

/**
 * The revocation request.
 * @example
 * const request = buildRevokeRequest(config, refreshToken)
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function buildRevokeRequest(config: IssuerConfig, refreshToken: Secret): Request {
  return jsonRequest(issuerEndpoint(config.issuer, '/oauth/revoke'), {
    token: refreshToken.reveal(),
    token_type_hint: 'refresh_token',
    client_id: config.clientId,
  })
}

/**
 * Accepts any 2xx (RFC 7009 answers 200 even for an unknown token); anything else is an error.
 * @example
 * await processRevokeResponse(response)
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.2
 */
export async function processRevokeResponse(response: Response): Promise<void> {
  const what = 'revocation'
  await refuseRedirect(response, what)
  if (response.status >= 200 && response.status <= 299) {
    await discardBody(response)
    return
  }
  const reply = await readIssuerReply(response, what)
  throw grantRefused(
    what,
    reply.status,
    reply.json,
    'The local credentials can still be removed with codex-broker logout.',
  )
}

/**
 * Revokes a refresh token and with it the sign-in's whole token family, on every machine.
 * @example
 * if (options.everywhere) await revokeRefreshToken(config, account.refreshToken)
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeRefreshToken(
  config: IssuerConfig,
  refreshToken: Secret,
): Promise<void> {
  const request = buildRevokeRequest(config, refreshToken)
  await processRevokeResponse(await sendToIssuer(config, request, 'revocation'))
}
