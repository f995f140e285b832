/**
 * What an error redirect from the issuer means (`/auth/callback?error=…&error_description=…&state=…`), shared by
 * the loopback callback server and the paste fallback so both report it alike. `access_denied` with
 * `missing_codex_entitlement` in the description means the workspace has no Codex; a plain `access_denied` is
 * the user pressing Deny; anything else is the issuer refusing the request. Only the error code and a short
 * description reach the message, never the whole URL.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
import { BrokerError } from '../lib/index.js'
import { MAX_DETAIL_LENGTH } from './issuer-error.js'

/**
 * The error for an authorization error response.
 * @example
 * callbackError('access_denied', 'missing_codex_entitlement').message
 * // 'Codex is not enabled for your workspace.'
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export function callbackError(error: string, description: string | null): BrokerError {
  const code = shortLine(error)
  const detail = description === null ? '' : shortLine(description)
  if (code === 'access_denied' && detail.includes('missing_codex_entitlement')) {
    return new BrokerError('ERR_FORBIDDEN', 'Codex is not enabled for your workspace.', {
      hint: 'Ask your workspace administrator to enable Codex, or sign in with another account.',
    })
  }
  if (code === 'access_denied') {
    return new BrokerError(
      'ERR_LOGIN_CANCELLED',
      'The sign-in was denied at the issuer (access_denied).',
      {
        hint: 'Run codex-broker login again and approve the request.',
      },
    )
  }
  return new BrokerError(
    'ERR_UPSTREAM_UNAUTHORIZED',
    `The issuer refused the sign-in: ${code}${detail === '' ? '' : ` (${detail})`}.`,
    { hint: 'Run codex-broker login again; if it keeps failing, check the issuer URL.' },
  )
}

function shortLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim()
  return line.length > MAX_DETAIL_LENGTH ? `${line.slice(0, MAX_DETAIL_LENGTH - 1)}…` : line
}
