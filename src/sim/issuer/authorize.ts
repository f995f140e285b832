/**
 * The authorization endpoint (PROTOCOL.md §2): `GET /oauth/authorize` checks the request and either signs the
 * auto-approve account in at once (302 with `code` and `state`) or shows the sign-in page; the page's buttons
 * post to `POST /oauth/authorize/decision`, which re-checks the request and answers the same redirects.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 */
import type { SimRoute } from '../http.js'
import type { SimAccount } from '../types.js'
import type { SimState } from '../state.js'
import {
  checkAuthorizeRequest,
  redirectWith,
  redirectWithError,
  type AuthorizeRequest,
} from './authorize-request.js'
import { readOwnForm } from './form-post.js'
import { errorPage } from './pages.js'
import { issuerRoute, type IssuerAnswer } from './respond.js'
import { ACCOUNT_FIELD, DECISION_FIELD, DECISION_PATH, signInPage } from './sign-in-page.js'

/** `GET /oauth/authorize` and `POST /oauth/authorize/decision`. */
export function authorizeRoutes(): SimRoute[] {
  return [
    issuerRoute('GET', '/oauth/authorize', (ctx) => {
      const check = checkAuthorizeRequest(ctx.state, ctx.url.searchParams)
      if (!check.ok) return check.answer
      const email = ctx.state.config.autoApprove
      if (email === null) return signInPage(ctx.state, check.request)
      return approve(ctx.state, check.request, ctx.state.addAccount({ email }))
    }),
    issuerRoute('POST', DECISION_PATH, async (ctx) => {
      const read = await readOwnForm(ctx)
      if (!read.ok) return read.answer
      const decision = read.form.get(DECISION_FIELD)
      const accountId = read.form.get(ACCOUNT_FIELD)
      read.form.delete(DECISION_FIELD)
      read.form.delete(ACCOUNT_FIELD)
      const check = checkAuthorizeRequest(ctx.state, read.form)
      if (!check.ok) return check.answer
      if (decision === 'deny') {
        return redirectWithError(
          check.request.redirectUri,
          'access_denied',
          'The user denied the request',
          check.request.state,
        )
      }
      if (decision !== 'approve') return errorPage(400, 'Bad decision', 'Choose Approve or Deny.')
      const account = accountId === null ? undefined : ctx.state.accounts.get(accountId)
      if (!account) return errorPage(400, 'Unknown account', 'That account does not exist.')
      return approve(ctx.state, check.request, account)
    }),
  ]
}

function approve(state: SimState, request: AuthorizeRequest, account: SimAccount): IssuerAnswer {
  const code = state.createAuthCode({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    accountId: account.accountId,
  })
  return redirectWith(request.redirectUri, { code, state: request.state })
}
