/**
 * `/codex/device`, where a person types the device code shown in their terminal (PROTOCOL.md §3 step 2). The page
 * offers the simulator's accounts in a select; the POST approves through `approveDeviceCode`, the same function
 * as `POST /__sim/device/approve`, so both surfaces refuse the same things with the same messages.
 */
import { SimControlError, approveDeviceCode } from '../control.js'
import { escapeHtml } from '../../lib/escape-html.js'
import type { SimRoute } from '../http.js'
import type { SimState } from '../state.js'
import { readOwnForm } from './form-post.js'
import { errorPage, renderPage } from './pages.js'
import { html, issuerRoute, type IssuerAnswer } from './respond.js'

const DEVICE_PATH = '/codex/device'

/** `GET /codex/device` (the form) and `POST /codex/device` (the approval). */
export function devicePageRoutes(): SimRoute[] {
  return [
    issuerRoute('GET', DEVICE_PATH, (ctx) =>
      devicePage(ctx.state, ctx.url.searchParams.get('user_code') ?? ''),
    ),
    issuerRoute('POST', DEVICE_PATH, async (ctx) => {
      const read = await readOwnForm(ctx)
      if (!read.ok) return read.answer
      const userCode = read.form.get('user_code')?.trim() ?? ''
      const email = read.form.get('email') ?? ''
      if (userCode === '' || email === '') {
        return errorPage(400, 'Missing details', 'Enter the code and choose an account.')
      }
      try {
        approveDeviceCode(ctx.state, userCode, email)
      } catch (error) {
        if (error instanceof SimControlError) {
          return errorPage(error.status, 'Could not approve the code', error.message)
        }
        throw error
      }
      return html(
        200,
        renderPage(
          'Device approved',
          `<p>Signed in as ${escapeHtml(email)}. You can return to your terminal.</p>`,
        ),
      )
    }),
  ]
}

function devicePage(state: SimState, prefill: string): IssuerAnswer {
  const accounts = [...state.accounts.values()]
  const options = accounts
    .map(
      (account) =>
        `<option value="${escapeHtml(account.email)}">${escapeHtml(account.email)}</option>`,
    )
    .join('')
  const chooser =
    accounts.length === 0
      ? '<p>The simulator has no accounts yet. Add one with <code>POST /__sim/accounts</code>.</p>'
      : `<label for="email">Account</label><select id="email" name="email">${options}</select>`
  const body = `<p>Enter the code shown on your device. It expires 15 minutes after it was shown.</p>
<p class="warn">Device codes are a common phishing target. Only enter a code you requested yourself.</p>
<form method="post" action="${DEVICE_PATH}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" placeholder="ABCD-EFGH" value="${escapeHtml(prefill)}">
${chooser}
<p><button type="submit">Approve</button></p></form>`
  return html(200, renderPage('Connect a device', body))
}
