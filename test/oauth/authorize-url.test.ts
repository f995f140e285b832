/**
 * The authorize URL of PROTOCOL.md §2: the Codex CLI's parameters in its order, `+` for spaces, the optional
 * workspace restriction, and only S256.
 */
import { describe, expect, it } from 'vitest'
import { buildAuthorizeUrl, CODEX_CLIENT_ID, DEFAULT_ISSUER, SCOPE } from '../../src/oauth/index.js'

const config = { issuer: DEFAULT_ISSUER, clientId: CODEX_CLIENT_ID }
const params = {
  redirectUri: 'http://127.0.0.1:1455/auth/callback',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  state: 'st4te_-',
}

describe('buildAuthorizeUrl', () => {
  it('is exactly the Codex CLI URL, parameters in order, + for spaces', () => {
    expect(buildAuthorizeUrl(config, params)).toBe(
      'https://auth.openai.com/oauth/authorize?response_type=code' +
        '&client_id=app_EMoamEEZ73f0CkXaXp7hrann' +
        '&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback' +
        '&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' +
        '&code_challenge_method=S256' +
        '&state=st4te_-' +
        '&scope=openid+profile+email+offline_access+api.connectors.read+api.connectors.invoke' +
        '&id_token_add_organizations=true' +
        '&codex_cli_simplified_flow=true' +
        '&originator=codex_cli_rs',
    )
  })

  it('round-trips every value', () => {
    const url = new URL(buildAuthorizeUrl(config, { ...params, originator: 'my tool' }))
    expect(url.searchParams.get('scope')).toBe(SCOPE)
    expect(url.searchParams.get('redirect_uri')).toBe(params.redirectUri)
    expect(url.searchParams.get('originator')).toBe('my tool')
    expect(url.search).toContain('originator=my+tool')
    expect(url.searchParams.has('allowed_workspace_id')).toBe(false)
  })

  it('adds allowed_workspace_id last, comma separated', () => {
    const url = buildAuthorizeUrl(config, { ...params, allowedWorkspaceId: ['ws-1', ' ws-2 '] })
    expect(url.endsWith('&originator=codex_cli_rs&allowed_workspace_id=ws-1%2Cws-2')).toBe(true)
    const single = new URL(buildAuthorizeUrl(config, { ...params, allowedWorkspaceId: 'ws-9' }))
    expect(single.searchParams.get('allowed_workspace_id')).toBe('ws-9')
  })

  it('keeps a path prefix of the issuer and drops its trailing slash', () => {
    const url = buildAuthorizeUrl({ ...config, issuer: 'http://127.0.0.1:8787/' }, params)
    expect(url.startsWith('http://127.0.0.1:8787/oauth/authorize?response_type=code&')).toBe(true)
  })
})
