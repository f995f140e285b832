/**
 * Validation of an authorization request (PROTOCOL.md §2), shared by `GET /oauth/authorize` and the decision
 * POST of the sign-in page, which re-checks everything because hidden fields can be edited. The client id and the
 * redirect URI are checked first: until the redirect URI is known to be registered, an error is a 400 page, never
 * a redirect (RFC 6749 §4.1.2.1), so the issuer cannot be used as an open redirector. After that, errors go back
 * to the client as `?error=…&error_description=…&state=…`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
import type { SimState } from '../state.js'
import { CODEX_CLIENT_ID } from '../state.js'
import { errorPage } from './pages.js'
import { isS256Challenge } from './pkce.js'
import { redirect, type IssuerAnswer } from './respond.js'

/** A valid authorization request. */
export interface AuthorizeRequest {
  clientId: string
  redirectUri: string
  codeChallenge: string
  state: string
  /** Every parameter as received, to carry through the sign-in page. */
  params: readonly (readonly [string, string])[]
}

/** The outcome of checking: the request, or the answer that refuses it. */
export type AuthorizeCheck =
  { ok: true; request: AuthorizeRequest } | { ok: false; answer: IssuerAnswer }

/** The redirect URIs registered for the Codex client: the loopback callbacks and the device-flow callback. */
export function isRegisteredRedirectUri(state: SimState, uri: string): boolean {
  // Exact string comparison: `localhost` is not `127.0.0.1`, and another port is another URI (RFC 8252 §8.4
  // allows any port for loopback, but auth.openai.com registers the two ports only).
  return state.redirectUris.includes(uri) || uri === `${state.issuer}/deviceauth/callback`
}

/**
 * Checks an authorization request.
 * @example
 * const check = checkAuthorizeRequest(state, ctx.url.searchParams)
 * if (!check.ok) return check.answer
 */
export function checkAuthorizeRequest(state: SimState, params: URLSearchParams): AuthorizeCheck {
  const clientId = only(params, 'client_id')
  if (clientId !== CODEX_CLIENT_ID) {
    return refusePage('Unknown client', 'The client_id is missing, repeated or not registered.')
  }
  const redirectUri = only(params, 'redirect_uri')
  if (redirectUri === null || !isRegisteredRedirectUri(state, redirectUri)) {
    return refusePage(
      'Invalid redirect URI',
      'The redirect_uri is missing, repeated or not registered for this client.',
    )
  }
  const oauthState = only(params, 'state')
  const fail = (error: string, description: string): AuthorizeCheck => ({
    ok: false,
    answer: redirectWithError(redirectUri, error, description, oauthState),
  })
  for (const [name] of params) {
    if (params.getAll(name).length > 1) return fail('invalid_request', `${name} is repeated`)
  }
  const responseType = params.get('response_type')
  if (responseType === null) return fail('invalid_request', 'response_type is required')
  if (responseType !== 'code') {
    return fail('unsupported_response_type', 'Only response_type=code is supported')
  }
  const codeChallenge = params.get('code_challenge')
  if (codeChallenge === null) return fail('invalid_request', 'code_challenge is required')
  if (!isS256Challenge(codeChallenge)) {
    return fail('invalid_request', 'code_challenge must be 43 characters of base64url')
  }
  // RFC 7636 §4.3: a missing method means `plain`, which this issuer refuses.
  if (params.get('code_challenge_method') !== 'S256') {
    return fail('invalid_request', 'code_challenge_method must be S256')
  }
  if (oauthState === null || oauthState === '') return fail('invalid_request', 'state is required')
  const scopes = new Set((params.get('scope') ?? '').split(' '))
  if (!scopes.has('openid') || !scopes.has('offline_access')) {
    return fail('invalid_scope', 'scope must include openid and offline_access')
  }
  return {
    ok: true,
    request: { clientId, redirectUri, codeChallenge, state: oauthState, params: [...params] },
  }
}

/** A 302 back to the client with `fields` added to the redirect URI's query. */
export function redirectWith(redirectUri: string, fields: Record<string, string>): IssuerAnswer {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value)
  return redirect(url.href)
}

/**
 * A 302 carrying an RFC 6749 §4.1.2.1 error, with `state` echoed when the request had one.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export function redirectWithError(
  redirectUri: string,
  error: string,
  description: string,
  state: string | null,
): IssuerAnswer {
  return redirectWith(redirectUri, {
    error,
    error_description: description,
    ...(state === null ? {} : { state }),
  })
}

function refusePage(title: string, message: string): AuthorizeCheck {
  return { ok: false, answer: errorPage(400, title, message) }
}

// A parameter given exactly once, else null: RFC 6749 §3.1 forbids repeats.
function only(params: URLSearchParams, name: string): string | null {
  const values = params.getAll(name)
  return values.length === 1 ? (values[0] ?? null) : null
}
