/**
 * `POST /oauth/token`: counts the call, reads a form or JSON body (the Codex CLI sends a form for the code
 * exchange and JSON for refresh), and hands it to the grant. Every answer, errors included, carries
 * `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5
 */
import { readParams, type SimRoute } from '../http.js'
import { oauthError } from './errors.js'
import { authorizationCodeGrant } from './grant-authorization-code.js'
import { refreshTokenGrant } from './grant-refresh-token.js'
import { TOKEN_EXCHANGE_GRANT, tokenExchangeGrant } from './grant-token-exchange.js'
import { issuerRoute } from './respond.js'

/** The token endpoint. */
export function tokenRoute(): SimRoute {
  return issuerRoute(
    'POST',
    '/oauth/token',
    async (ctx) => {
      ctx.state.counters.tokenCalls += 1
      const params = await readParams(ctx)
      const grantType = params.get('grant_type')
      switch (grantType) {
        case 'authorization_code':
          return authorizationCodeGrant(ctx.state, params)
        case 'refresh_token':
          return refreshTokenGrant(ctx.state, params)
        case TOKEN_EXCHANGE_GRANT:
          return tokenExchangeGrant(ctx.state, params)
        case undefined:
          throw oauthError(400, 'invalid_request', 'grant_type is required')
        default:
          throw oauthError(400, 'unsupported_grant_type', `Unsupported grant_type ${grantType}`)
      }
    },
    { jsonHeaders: { pragma: 'no-cache' } },
  )
}
