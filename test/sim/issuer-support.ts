/**
 * Wire helpers for the issuer conformance tests: PKCE pairs, authorize URLs in the Codex CLI's parameter order,
 * a full browser sign-in through the real endpoints, JWT decoding, and reading the control API over HTTP. They
 * speak to the simulator only over loopback HTTP, as the broker will.
 */
import { createHash, randomBytes } from 'node:crypto'
import { expect } from 'vitest'
import {
  CODEX_CLIENT_ID,
  CODEX_SCOPE,
  type SimCounters,
  type Simulator,
} from '../../src/sim/index.js'
import { postForm, postJson } from '../support/sim.js'

/** The first registered loopback callback (PROTOCOL.md §1). */
export const REDIRECT_URI = 'http://127.0.0.1:1455/auth/callback'

/** The tokens of a successful grant. */
export interface TokenSet {
  id_token: string
  access_token: string
  refresh_token: string
  expires_in: number
}

/** A fresh verifier (64 random bytes, as the Codex CLI makes) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(64).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** An authorize URL as the Codex CLI builds it; `null` in `overrides` drops a parameter. */
export function authorizeUrl(
  sim: Simulator,
  challenge: string,
  overrides: Record<string, string | null> = {},
): string {
  const fields: Record<string, string | null> = {
    response_type: 'code',
    client_id: CODEX_CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st_' + randomBytes(16).toString('base64url'),
    scope: CODEX_SCOPE,
    id_token_add_organizations: 'true',
    codex_cli_simplified_flow: 'true',
    originator: 'codex_cli_rs',
    ...overrides,
  }
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) if (value !== null) params.set(name, value)
  return `${sim.issuer}/oauth/authorize?${params.toString()}`
}

/** GETs without following redirects. */
export function getManual(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers })
}

/** The parsed `Location` of a 302. */
export function locationOf(response: Response): URL {
  expect(response.status).toBe(302)
  const location = response.headers.get('location')
  if (location === null) throw new Error('302 without Location')
  return new URL(location)
}

/** Signs `email` in with auto-approve and returns the code, its verifier and the redirect URI. */
export async function authorizeCode(
  sim: Simulator,
  email: string,
  redirectUri = REDIRECT_URI,
): Promise<{ code: string; verifier: string; redirectUri: string }> {
  sim.control.configure({ autoApprove: email })
  const { verifier, challenge } = pkcePair()
  const response = await getManual(
    authorizeUrl(sim, challenge, { redirect_uri: redirectUri, state: 'state-1' }),
  )
  const location = locationOf(response)
  expect(location.searchParams.get('state')).toBe('state-1')
  const code = location.searchParams.get('code')
  if (code === null) throw new Error(`no code in ${location.href}`)
  return { code, verifier, redirectUri }
}

/** `POST /oauth/token` with the code-exchange form of PROTOCOL.md §2. */
export function exchangeCode(
  sim: Simulator,
  code: string,
  verifier: string,
  redirectUri = REDIRECT_URI,
  clientId = CODEX_CLIENT_ID,
): Promise<Response> {
  return postForm(`${sim.issuer}/oauth/token`, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  })
}

/** A complete browser sign-in; returns the tokens. */
export async function signIn(sim: Simulator, email: string): Promise<TokenSet> {
  const { code, verifier } = await authorizeCode(sim, email)
  const response = await exchangeCode(sim, code, verifier)
  expect(response.status).toBe(200)
  return (await response.json()) as TokenSet
}

/** `POST /oauth/token` refresh, JSON (PROTOCOL.md §4) or form. */
export function refresh(
  sim: Simulator,
  refreshToken: string,
  options: { form?: boolean; reason?: string; clientId?: string } = {},
): Promise<Response> {
  const body = {
    client_id: options.clientId ?? CODEX_CLIENT_ID,
    grant_type: 'refresh_token',
    refresh_reason: options.reason ?? 'proactive_expiry',
    refresh_token: refreshToken,
  }
  const url = `${sim.issuer}/oauth/token`
  return options.form === true ? postForm(url, body) : postJson(url, body)
}

/** The error code as PROTOCOL.md §4 says a client reads it: `error.code`, then `error`, then `code`. */
export function errorCodeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const record = body as Record<string, unknown>
  const error = record.error
  if (typeof error === 'object' && error !== null) {
    const code = (error as Record<string, unknown>).code
    if (typeof code === 'string') return code
  }
  if (typeof error === 'string') return error
  return typeof record.code === 'string' ? record.code : undefined
}

/** A JWT's header and payload, unverified. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [header, payload] = token.split('.')
  if (header === undefined || payload === undefined) throw new Error('not a JWT')
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >,
  }
}

/** `GET /__sim/counters`. */
export async function countersOf(sim: Simulator): Promise<SimCounters> {
  const response = await fetch(`${sim.controlBase}/counters`)
  return (await response.json()) as SimCounters
}

/** `GET /__sim/issued`. */
export async function issuedOf(sim: Simulator): Promise<string[]> {
  const response = await fetch(`${sim.controlBase}/issued`)
  return (await response.json()) as string[]
}

/** A form of an HTML page: its action, hidden fields and submit button. */
export interface PageForm {
  action: string
  fields: [string, string][]
  button: [string, string] | null
}

/** The forms of one of the simulator's pages (it writes them in one fixed shape). */
export function formsOf(html: string): PageForm[] {
  return [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].map((match) => {
    const inner = match[2] ?? ''
    const fields = [...inner.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map(
      (field): [string, string] => [decodeEntities(field[1] ?? ''), decodeEntities(field[2] ?? '')],
    )
    const button = /<button type="submit" name="([^"]*)" value="([^"]*)">/.exec(inner)
    return {
      action: decodeEntities(match[1] ?? ''),
      fields,
      button: button ? [button[1] ?? '', button[2] ?? ''] : null,
    }
  })
}

/** POSTs a page form as a browser would (form-encoded, same-origin). */
export function submitForm(
  sim: Simulator,
  form: PageForm,
  headers: Record<string, string> = {},
): Promise<Response> {
  const body = new URLSearchParams(form.fields)
  if (form.button) body.append(form.button[0], form.button[1])
  return fetch(`${sim.issuer}${form.action}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
      ...headers,
    },
    body: body.toString(),
  })
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
}

/** A settable clock for `startSimulator({ now })`. */
export function manualClock(start = Date.UTC(2026, 0, 1)): {
  now: () => number
  advance: (ms: number) => void
} {
  let time = start
  return {
    now: () => time,
    advance: (ms) => {
      time += ms
    },
  }
}
