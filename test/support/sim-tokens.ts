/**
 * Test fixture: signs a simulator account in over the real wire — `GET /oauth/authorize` with auto-approve, then
 * the `authorization_code` grant with a PKCE pair at `/oauth/token` — so backend tests hold the same tokens a
 * broker would, and header helpers that dress a request the way the Codex CLI does (PROTOCOL.md §7).
 */
import { createHash, randomBytes } from 'node:crypto'
import { CODEX_CLIENT_ID, CODEX_SCOPE, type SimPlan, type Simulator } from '../../src/sim/index.js'

/** An account signed in through the issuer. */
export interface SignedInAccount {
  accountId: string
  email: string
  plan: SimPlan
  accessToken: string
  refreshToken: string
  idToken: string
}

const REDIRECT_URI = 'http://127.0.0.1:1455/auth/callback'

/**
 * Adds the account (if new) and signs it in. Auto-approve is switched on for the sign-in and restored after,
 * so a test that set its own value keeps it.
 */
export async function signIn(
  sim: Simulator,
  account: { email: string; plan?: SimPlan },
): Promise<SignedInAccount> {
  const summary = sim.control.addAccount(account)
  const previous = sim.control.configure({}).autoApprove
  sim.control.configure({ autoApprove: summary.email })
  try {
    const verifier = randomBytes(64).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const state = randomBytes(32).toString('base64url')
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: CODEX_CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      scope: CODEX_SCOPE,
      id_token_add_organizations: 'true',
      codex_cli_simplified_flow: 'true',
      originator: 'codex_cli_rs',
    })
    const authorize = await fetch(`${sim.issuer}/oauth/authorize?${params.toString()}`, {
      redirect: 'manual',
    })
    const location = authorize.headers.get('location')
    if (authorize.status !== 302 || location === null) {
      throw new Error(`authorize answered ${authorize.status}: ${await authorize.text()}`)
    }
    const callback = new URL(location)
    const code = callback.searchParams.get('code')
    if (code === null || callback.searchParams.get('state') !== state) {
      throw new Error(`unexpected callback ${callback.href}`)
    }
    const token = await fetch(`${sim.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: CODEX_CLIENT_ID,
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      }).toString(),
    })
    if (token.status !== 200) {
      throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`)
    }
    const tokens = (await token.json()) as {
      id_token: string
      access_token: string
      refresh_token: string
    }
    return {
      accountId: summary.accountId,
      email: summary.email,
      plan: summary.plan,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
    }
  } finally {
    sim.control.configure({ autoApprove: previous })
  }
}

/** The headers the Codex CLI sends to `codex/responses`, for a signed-in account. */
export function codexHeaders(
  account: SignedInAccount,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    authorization: `Bearer ${account.accessToken}`,
    'chatgpt-account-id': account.accountId,
    originator: 'codex_cli_rs',
    'user-agent': 'codex_cli_rs/0.169.0 (Linux 6.1; x86_64)',
    accept: 'text/event-stream',
    'content-type': 'application/json',
    ...extra,
  }
}
