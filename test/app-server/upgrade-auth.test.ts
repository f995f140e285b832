import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import {
  WS_AUTH_REASONS,
  type WsAuthMode,
  authenticateUpgrade,
  capabilityFromSha256,
} from '../../src/app-server/index.js'
import { sha256Hex } from '../../src/lib/safe-equal.js'
import { NOW_S, claims, token, verifier } from './jwt-fixture.js'

const TOKEN = 'upgrade-capability-token-0123456789'
const capability: WsAuthMode = {
  kind: 'capability',
  verifier: capabilityFromSha256(sha256Hex(TOKEN)),
}
const jwt: WsAuthMode = { kind: 'jwt', verifier: verifier() }
const OK = { ok: true }

function refused(reason: (typeof WS_AUTH_REASONS)[number]) {
  return { ok: false, status: 401, reason }
}

function auth(authorization: string | undefined, mode: WsAuthMode = capability) {
  const headers: IncomingHttpHeaders = authorization === undefined ? {} : { authorization }
  return authenticateUpgrade(headers, mode)
}

describe('authenticateUpgrade', () => {
  it('lets everything through in mode none', async () => {
    expect(await auth(undefined, { kind: 'none' })).toEqual(OK)
    expect(await auth('Basic abc', { kind: 'none' })).toEqual(OK)
  })

  it('accepts the capability token with the scheme in any case (positive control)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(await auth(`${scheme} ${TOKEN}`)).toEqual(OK)
    }
  })

  it('answers "missing websocket bearer token" without an Authorization header', async () => {
    expect(await auth(undefined)).toEqual(refused('missing websocket bearer token'))
    expect(await auth('')).toEqual(refused('missing websocket bearer token'))
    expect(await auth(undefined, jwt)).toEqual(refused('missing websocket bearer token'))
  })

  it('answers "invalid authorization header" for other schemes and malformed values', async () => {
    const values = [
      `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      `Token ${TOKEN}`,
      `Bearer`,
      `Bearer `,
      TOKEN,
      `Bearer ${TOKEN} extra`,
      `Bearer\t${TOKEN}`,
      `Bearer:${TOKEN}`,
      `Bearer ${TOKEN}\u00e9`,
      `Bearer ${TOKEN}, Bearer ${TOKEN}`,
    ]
    for (const value of values) {
      expect(await auth(value), value).toEqual(refused('invalid authorization header'))
    }
  })

  it('refuses a repeated Authorization header (seen in rawHeaders), even when both are right', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` }
    const raw = [
      'Host',
      'x',
      'Authorization',
      `Bearer ${TOKEN}`,
      'authorization',
      `Bearer ${TOKEN}`,
    ]
    expect(await authenticateUpgrade(headers, capability, raw)).toEqual(
      refused('invalid authorization header'),
    )
    expect(await authenticateUpgrade(headers, capability, raw.slice(0, 4))).toEqual(OK)
    const joined = {
      authorization: [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`],
    } as unknown as IncomingHttpHeaders
    expect(await authenticateUpgrade(joined, capability)).toEqual(
      refused('invalid authorization header'),
    )
  })

  it('answers "invalid websocket bearer token" for a wrong capability token', async () => {
    for (const wrong of ['nope', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
      expect(await auth(`Bearer ${wrong}`)).toEqual(refused('invalid websocket bearer token'))
    }
  })

  it('never reads the query string or Sec-WebSocket-Protocol', async () => {
    const headers: IncomingHttpHeaders = {
      'sec-websocket-protocol': TOKEN,
      cookie: `token=${TOKEN}`,
      'x-forwarded-uri': `/?token=${TOKEN}`,
    }
    expect(await authenticateUpgrade(headers, capability)).toEqual(
      refused('missing websocket bearer token'),
    )
  })

  it('passes JWTs to the verifier and answers with its exact reasons', async () => {
    expect(await auth(`Bearer ${token()}`, jwt)).toEqual(OK)
    const cases = [
      [token({ alg: 'HS512' }), 'invalid websocket jwt'],
      [token(undefined, claims({ exp: NOW_S - 60 })), 'expired websocket jwt'],
      [token(undefined, claims({ nbf: NOW_S + 60 })), 'websocket jwt is not valid yet'],
      [token(undefined, claims({ iss: 'other' })), 'websocket jwt issuer mismatch'],
      [token(undefined, claims({ aud: 'other' })), 'websocket jwt audience mismatch'],
    ] as const
    for (const [jwtToken, reason] of cases) {
      expect(await auth(`bearer ${jwtToken}`, jwt)).toEqual(refused(reason))
    }
    // A capability token in JWT mode is just an invalid JWT.
    expect(await auth(`Bearer ${TOKEN}`, jwt)).toEqual(refused('invalid websocket jwt'))
  })

  it('lists exactly the reasons of PROTOCOL.md §10', () => {
    expect(WS_AUTH_REASONS).toEqual([
      'missing websocket bearer token',
      'invalid authorization header',
      'invalid websocket bearer token',
      'invalid websocket jwt',
      'expired websocket jwt',
      'websocket jwt is not valid yet',
      'websocket jwt issuer mismatch',
      'websocket jwt audience mismatch',
    ])
  })
})
