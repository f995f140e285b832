/**
 * `POST /logout`: ends the session server-side and deletes its tokens from the credential store (under the account
 * lock, so no refresh of this chain is in flight); with `{"everywhere": true}` the refresh token is first revoked
 * at the issuer (RFC 7009), and nothing is deleted if that fails, so the user can try again. Answers
 * `{loggedIn: false}` with the cookie deleted and `Clear-Site-Data`. Without a live session it still clears the
 * cookie: logging out twice is not an error.
 */
import { z } from 'zod'
import { revokeRefreshToken } from '../../oauth/index.js'
import { readJsonBody } from '../json-body.js'
import { jsonAnswer } from '../web-answer.js'
import type { Route } from '../route-context.js'
import { WebRefusal } from '../web-error.js'

const logoutBody = z.object({ everywhere: z.boolean().optional() }).strict()

/** The route. */
export const logoutRoute: Route = async (request, { settings, gate }) => {
  const parsed = logoutBody.safeParse(await readJsonBody(request, settings.maxBodyBytes))
  if (!parsed.success) {
    throw new WebRefusal(
      400,
      'invalid_request',
      'The body may only hold {"everywhere": true|false}.',
    )
  }
  const headers = {
    'set-cookie': gate.clearCookie(),
    'clear-site-data': settings.clearSiteData,
  }
  const loaded = await gate.load(request)
  if (loaded.kind !== 'live') return jsonAnswer({ loggedIn: false }, 200, headers)
  const { key, session } = loaded
  const credentialId = session.account?.credentialId
  if (credentialId === undefined) {
    await gate.destroy(key)
  } else {
    const { credentials, issuer } = settings
    // Revoke first: if the issuer cannot be reached, nothing is deleted and the user can try again.
    await credentials.withAccountLock(credentialId, async () => {
      const stored = await credentials.get(credentialId)
      if (parsed.data.everywhere === true && issuer !== null && stored?.auth.kind === 'chatgpt') {
        await revokeRefreshToken(issuer, stored.auth.refreshToken)
      }
      await gate.destroy(key)
      await credentials.remove(credentialId)
    })
    settings.tokens?.forget(credentialId)
  }
  settings.logger.info(
    { event: 'web.logout', everywhere: parsed.data.everywhere === true },
    'signed out',
  )
  return jsonAnswer({ loggedIn: false }, 200, headers)
}
