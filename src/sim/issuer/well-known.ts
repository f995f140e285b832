/**
 * Discovery: the JWKS that verifies every token the simulator signs, and an OpenID Provider configuration naming
 * the endpoints, so a standard OIDC library pointed at the simulator finds its way. The device-code endpoints are
 * left out on purpose: they are not RFC 8628's `device_authorization_endpoint` and must not be mistaken for it.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
 */
import type { SimRoute } from '../http.js'
import { CODEX_SCOPE } from '../state.js'
import { TOKEN_EXCHANGE_GRANT } from './grant-token-exchange.js'
import { issuerRoute, json } from './respond.js'

/** `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`. */
export function wellKnownRoutes(): SimRoute[] {
  return [
    issuerRoute('GET', '/.well-known/jwks.json', (ctx) => json(200, ctx.state.signer.jwks())),
    issuerRoute('GET', '/.well-known/openid-configuration', (ctx) => {
      const issuer = ctx.state.issuer
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/oauth/authorize`,
        token_endpoint: `${issuer}/oauth/token`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
        revocation_endpoint_auth_methods_supported: ['none'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: CODEX_SCOPE.split(' '),
      })
    }),
  ]
}
