/**
 * The authorization request of the browser sign-in: exactly the URL the Codex CLI opens (PROTOCOL.md §2), with
 * the parameters in its order and form encoding (`+` for spaces), so the issuer sees the same request from the
 * broker as from the official client. Only `S256` is ever sent.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 */
import { DEFAULT_ORIGINATOR, SCOPE } from './constants.js'
import { issuerEndpoint } from './endpoint-url.js'
import { CODE_CHALLENGE_METHOD } from './pkce.js'
import type { IssuerConfig } from './token-response.js'

/** The per-request parts of the authorize URL. */
export interface AuthorizeUrlParams {
  /** The exact registered redirect URI, e.g. `http://127.0.0.1:1455/auth/callback`. */
  redirectUri: string
  /** The S256 challenge of this login's verifier. */
  codeChallenge: string
  /** This login's one-time state. */
  state: string
  /** Scope; {@link SCOPE} by default. */
  scope?: string
  /** `originator`; `codex_cli_rs` by default. */
  originator?: string
  /** Workspace ids the user may pick (sent as `allowed_workspace_id=<id,id>`); none by default. */
  allowedWorkspaceId?: string | readonly string[]
}

/**
 * Builds `{issuer}/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&code_challenge=…
 * &code_challenge_method=S256&state=…&scope=…&id_token_add_organizations=true&codex_cli_simplified_flow=true
 * &originator=…[&allowed_workspace_id=…]`. Throws `ERR_INVALID_CONFIG` for an unsafe issuer URL.
 * @example
 * const url = buildAuthorizeUrl(config, { redirectUri, codeChallenge, state })
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 */
export function buildAuthorizeUrl(config: IssuerConfig, params: AuthorizeUrlParams): string {
  const url = issuerEndpoint(config.issuer, '/oauth/authorize')
  const query = new URLSearchParams()
  query.append('response_type', 'code')
  query.append('client_id', config.clientId)
  query.append('redirect_uri', params.redirectUri)
  query.append('code_challenge', params.codeChallenge)
  query.append('code_challenge_method', CODE_CHALLENGE_METHOD)
  query.append('state', params.state)
  query.append('scope', params.scope ?? SCOPE)
  query.append('id_token_add_organizations', 'true')
  query.append('codex_cli_simplified_flow', 'true')
  query.append('originator', params.originator ?? DEFAULT_ORIGINATOR)
  const workspaces = workspaceList(params.allowedWorkspaceId)
  if (workspaces !== '') query.append('allowed_workspace_id', workspaces)
  // URLSearchParams serialises as application/x-www-form-urlencoded: spaces become `+`.
  return `${url.href}?${query.toString()}`
}

function workspaceList(value: string | readonly string[] | undefined): string {
  if (value === undefined) return ''
  const ids = typeof value === 'string' ? value.split(',') : value
  return ids
    .map((id) => id.trim())
    .filter((id) => id !== '')
    .join(',')
}
