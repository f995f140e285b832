/**
 * The sign-in page of `GET /oauth/authorize` when nothing is auto-approved: the simulator's accounts, each with an
 * Approve button, and a Deny button. Every button is a form POST to `/oauth/authorize/decision` that carries the
 * original request as hidden fields, so the decision is checked exactly like the request was.
 */
import { escapeHtml } from '../../lib/escape-html.js'
import type { SimState } from '../state.js'
import type { AuthorizeRequest } from './authorize-request.js'
import { hiddenFields, renderPage } from './pages.js'
import { html, type IssuerAnswer } from './respond.js'

/** The decision route the page posts to. */
export const DECISION_PATH = '/oauth/authorize/decision'

/** Form fields the page adds to the request's own; an authorization request never uses these names. */
export const DECISION_FIELD = 'decision'
export const ACCOUNT_FIELD = 'account_id'

/** Renders the account chooser for a validated request. */
export function signInPage(state: SimState, request: AuthorizeRequest): IssuerAnswer {
  const carried = hiddenFields(request.params)
  const accounts = [...state.accounts.values()]
  const list =
    accounts.length === 0
      ? '<p>The simulator has no accounts yet. Add one with <code>POST /__sim/accounts</code>.</p>'
      : `<ul>${accounts
          .map(
            (account) =>
              `<li><span>${escapeHtml(account.email)} <span class="note">(${escapeHtml(account.plan)})</span></span>
<form class="inline" method="post" action="${DECISION_PATH}">${carried}
<input type="hidden" name="${ACCOUNT_FIELD}" value="${escapeHtml(account.accountId)}">
<button type="submit" name="${DECISION_FIELD}" value="approve">Approve</button></form></li>`,
          )
          .join('\n')}</ul>`
  const body = `<p>Codex CLI wants to sign in with your ChatGPT account and will return to
<code>${escapeHtml(request.redirectUri)}</code>.</p>
${list}
<form method="post" action="${DECISION_PATH}">${carried}
<button type="submit" name="${DECISION_FIELD}" value="deny">Deny</button></form>`
  // The decision answers with a redirect to the client's callback; browsers check a form's redirect target
  // against `form-action`, so that origin must be allowed as well as our own.
  const callbackOrigin = new URL(request.redirectUri).origin
  return html(200, renderPage('Sign in to ChatGPT', body), {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${callbackOrigin}; frame-ancestors 'none'`,
  })
}
