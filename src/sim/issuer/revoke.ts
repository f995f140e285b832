/**
 * `POST /oauth/revoke` (PROTOCOL.md §4, "sign out everywhere"): revoking a refresh or access token revokes its
 * whole family, so every token of that sign-in stops working. An unknown token is still a 200, as RFC 7009 §2.2
 * requires, so the endpoint does not reveal which tokens exist. `token_type_hint` is only a hint: both kinds are
 * looked up whatever it says.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
import { readParams, type SimRoute } from '../http.js'
import { requireCodexClient, requireParam } from './errors.js'
import { issuerRoute, json } from './respond.js'

/** The revocation endpoint; JSON (as the Codex CLI sends) or form bodies. */
export function revokeRoute(): SimRoute {
  return issuerRoute('POST', '/oauth/revoke', async (ctx) => {
    const params = await readParams(ctx)
    requireCodexClient(params)
    const token = requireParam(params, 'token')
    const familyId =
      ctx.state.refreshTokens.get(token)?.familyId ?? ctx.state.accessTokens.get(token)?.familyId
    if (familyId !== undefined) ctx.state.revokeFamily(familyId)
    return json(200, {})
  })
}
