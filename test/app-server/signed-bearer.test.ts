/**
 * SECURITY.md JWT-00…JWT-24 against the verifier (HS256 pinned, iss/aud configured, skew 30 s,
 * fixed clock), twice: once called directly, once through a real WebSocket upgrade of an app-server
 * using that verifier (`Authorization: Bearer <vector>`; 101 = accepted, 401 = refused with its
 * reason). Every vector but JWT-00 must be refused; some cases also carry a positive control of
 * their own, to show that the refusal comes from the feature under test.
 */
import { writeFile, chmod } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  type JwtResult,
  type RunningAppServer,
  createJwtVerifier,
  loadSharedSecretFile,
  startAppServer,
} from '../../src/app-server/index.js'
import { isBrokerError } from '../../src/lib/errors.js'
import { makeTempDir } from '../lib/temp-dir.js'
import {
  AUDIENCE,
  ISSUER,
  NOW_S,
  SECRET,
  assemble,
  b64,
  claims,
  hmac,
  token,
  verifier,
} from './jwt-fixture.js'

const INVALID = { ok: false, reason: 'invalid websocket jwt' } as const

type CheckResult = JwtResult | { ok: true; claims?: undefined } | { ok: false; reason: string }

function expectAccepted(result: CheckResult): void {
  expect(result.ok, JSON.stringify(result)).toBe(true)
}

/** The status and body of an upgrade carrying `Authorization: Bearer <jwt>`. */
function upgradeWith(server: RunningAppServer, jwt: string): Promise<CheckResult> {
  const ws = new WebSocket(server.url, { headers: { authorization: `Bearer ${jwt}` } })
  ws.on('error', () => undefined)
  return new Promise((resolve) => {
    ws.once('open', () => {
      ws.terminate()
      resolve({ ok: true })
    })
    ws.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
      response.on('end', () => {
        const status = response.statusCode ?? 0
        // Two refusals come before the verifier, for header syntax (a space or nothing where the
        // token goes) and for size (Node's 16 KiB header limit, 431): the same refusal, earlier.
        const early = body === 'invalid authorization header' || status === 431
        resolve({
          ok: false,
          reason: early ? 'invalid websocket jwt' : `${String(status)} ${body}`,
        })
      })
    })
  })
}

const MODES = ['verifier', 'upgrade'] as const

describe.each(MODES)('signed bearer tokens via the %s: SECURITY.md JWT-00…JWT-24', (mode) => {
  let server: RunningAppServer | undefined
  beforeAll(async () => {
    if (mode === 'verifier') return
    server = await startAppServer({
      methods: new Map(),
      auth: { kind: 'jwt', verifier: verifier() },
      // Every vector is a failure from one address: the throttle is tested elsewhere.
      maxAuthFailures: 1_000_000,
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  async function check(jwt: string): Promise<CheckResult> {
    if (server === undefined) return verifier().verify(jwt)
    const result = await upgradeWith(server, jwt)
    // On the wire a 401 carries the reason as its body, prefixed here by the status.
    return result.ok ? result : { ok: false, reason: result.reason.replace(/^401 /, '') }
  }

  it('JWT-00: a valid token is accepted (positive control, jose SignJWT and hand-assembled)', async () => {
    const signed = await new SignJWT({ sub: 'client-1' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 600)
      .sign(SECRET)
    const result = await check(signed)
    expectAccepted(result)
    // The claims are the verifier's to give; the wire answers 101 and nothing more.
    if (mode === 'verifier') {
      expect(result.ok && result.claims).toMatchObject({
        sub: 'client-1',
        iss: ISSUER,
        aud: AUDIENCE,
      })
    }
    expectAccepted(await check(token()))
  })

  it('JWT-01: a signature with one flipped bit is refused', async () => {
    const [header, payload, signature] = token().split('.') as [string, string, string]
    for (const bit of [0, 7, 255]) {
      const bytes = Buffer.from(signature, 'base64url')
      bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      expect(await check(`${header}.${payload}.${bytes.toString('base64url')}`)).toEqual(INVALID)
    }
  })

  it('JWT-02: alg "none" is refused, with an empty or a real signature', async () => {
    const input = `${b64('{"alg":"none","typ":"JWT"}')}.${b64(JSON.stringify(claims()))}`
    expect(await check(`${input}.`)).toEqual(INVALID)
    expect(await check(`${input}.${hmac(input)}`)).toEqual(INVALID)
  })

  it('JWT-03: alg HS512 signed with the same secret is refused', async () => {
    const hs512 = assemble(
      '{"alg":"HS512","typ":"JWT"}',
      JSON.stringify(claims()),
      SECRET,
      'sha512',
    )
    expect(await check(hs512)).toEqual(INVALID)
  })

  it('JWT-04: RS256 and ES256 tokens, and RS256 HMAC-signed with the public key, are refused', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg)
      const genuine = await new SignJWT(claims()).setProtectedHeader({ alg }).sign(privateKey)
      expect(await check(genuine)).toEqual(INVALID)
      // The key-confusion attack: the public key used as an HMAC secret.
      const pem = await exportSPKI(publicKey)
      const confused = assemble(`{"alg":"${alg}"}`, JSON.stringify(claims()), pem)
      expect(await check(confused)).toEqual(INVALID)
      expect(await verifier({ secret: Buffer.from(pem) }).verify(confused)).toEqual(INVALID)
    }
  })

  it('JWT-05: alg "hs256" (wrong case) is refused', async () => {
    expect(await check(token({ alg: 'hs256', typ: 'JWT' }))).toEqual(INVALID)
  })

  it('JWT-06: a header without alg is refused', async () => {
    expect(await check(token({ typ: 'JWT' }))).toEqual(INVALID)
  })

  it('JWT-07: crit is refused (b64:false, b64:true, an unknown extension)', async () => {
    expect(await check(token({ alg: 'HS256', b64: false, crit: ['b64'] }))).toEqual(INVALID)
    // jose understands b64:true and would accept this one: the refusal is ours.
    expect(await check(token({ alg: 'HS256', b64: true, crit: ['b64'] }))).toEqual(INVALID)
    expect(await check(token({ alg: 'HS256', crit: ['exp'] }))).toEqual(INVALID)
    // RFC 7797 unencoded payload: `header..signature` over the raw payload.
    const header = b64('{"alg":"HS256","b64":false,"crit":["b64"]}')
    const raw = JSON.stringify(claims())
    expect(await check(`${header}.${raw}.${hmac(`${header}.${raw}`)}`)).toEqual(INVALID)
    expect(await check(`${header}..${hmac(`${header}.${raw}`)}`)).toEqual(INVALID)
  })

  it('JWT-08: a wrong iss is refused as an issuer mismatch', async () => {
    expect(await check(token(undefined, claims({ iss: 'https://evil.test' })))).toEqual({
      ok: false,
      reason: 'websocket jwt issuer mismatch',
    })
  })

  it('JWT-09: a missing iss is refused as an issuer mismatch', async () => {
    expect(await check(token(undefined, claims({ iss: undefined })))).toEqual({
      ok: false,
      reason: 'websocket jwt issuer mismatch',
    })
  })

  it('JWT-10: a wrong aud is refused as an audience mismatch', async () => {
    expect(await check(token(undefined, claims({ aud: 'someone-else' })))).toEqual({
      ok: false,
      reason: 'websocket jwt audience mismatch',
    })
  })

  it('JWT-11: an aud array without ours is refused; with ours it is accepted', async () => {
    expect(await check(token(undefined, claims({ aud: ['a', 'b'] })))).toEqual({
      ok: false,
      reason: 'websocket jwt audience mismatch',
    })
    expectAccepted(await check(token(undefined, claims({ aud: ['a', AUDIENCE] }))))
  })

  it('JWT-12: a missing aud is refused as an audience mismatch', async () => {
    expect(await check(token(undefined, claims({ aud: undefined })))).toEqual({
      ok: false,
      reason: 'websocket jwt audience mismatch',
    })
  })

  it('JWT-13: exp beyond the skew is refused; just inside the skew is accepted (boundary)', async () => {
    const expired = { ok: false, reason: 'expired websocket jwt' }
    expect(await check(token(undefined, claims({ exp: NOW_S - 3600 })))).toEqual(expired)
    // exp is the first second a token is invalid (RFC 7519 §4.1.4): exp = now − skew is outside.
    expect(await check(token(undefined, claims({ exp: NOW_S - 30 })))).toEqual(expired)
    expectAccepted(await check(token(undefined, claims({ exp: NOW_S - 29 }))))
    // And a missing exp is refused outright.
    expect(await check(token(undefined, claims({ exp: undefined })))).toEqual(INVALID)
  })

  it('JWT-14: nbf beyond the skew is refused; at the skew it is accepted (boundary)', async () => {
    expect(await check(token(undefined, claims({ nbf: NOW_S + 31 })))).toEqual({
      ok: false,
      reason: 'websocket jwt is not valid yet',
    })
    expectAccepted(await check(token(undefined, claims({ nbf: NOW_S + 30 }))))
  })

  it('JWT-15: a 31-byte secret is refused at start; 32 bytes are accepted', async () => {
    const dir = await makeTempDir()
    const short = join(dir, 'short')
    const exact = join(dir, 'exact')
    await writeFile(short, `${'s'.repeat(31)}\n`, { mode: 0o600 })
    await writeFile(exact, `${'s'.repeat(32)}\n`, { mode: 0o600 })
    const error: unknown = await loadSharedSecretFile(short).catch((caught: unknown) => caught)
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    expect(String(error)).toMatch(/31 bytes; HS256 needs at least 32/)
    const secret = await loadSharedSecretFile(exact)
    expect(secret.reveal()).toBe('s'.repeat(32))
    const signed = token(undefined, claims(), 's'.repeat(32))
    expectAccepted(await verifier({ secret }).verify(signed))
    expect(() => createJwtVerifier({ secret: new Uint8Array(31) })).toThrow(/31 bytes/)
  })

  it('JWT-16: a wrong typ is refused; JWT, application/jwt (any case) and none are accepted', async () => {
    for (const typ of ['at+jwt', 'dpop+jwt', 'JWS', 'JOSE', '', 1]) {
      expect(await check(token({ alg: 'HS256', typ }))).toEqual(INVALID)
    }
    for (const typ of ['JWT', 'jwt', 'application/jwt', undefined]) {
      expectAccepted(await check(token({ alg: 'HS256', typ })))
    }
  })

  it('JWT-17: duplicate JSON names are refused ("alg" twice, "aud" twice)', async () => {
    const payload = JSON.stringify(claims())
    // jose would take the last "alg" (HS256) and accept this: the refusal is ours.
    expect(await check(assemble('{"alg":"none","alg":"HS256"}', payload))).toEqual(INVALID)
    expect(await check(assemble('{"alg":"HS256","a\\u006cg":"HS256"}', payload))).toEqual(INVALID)
    const twiceAud = payload.replace('"aud":', '"aud":"someone-else","aud":')
    expect(twiceAud).toMatch(/"aud":"someone-else","aud":"codex-broker-tests"/)
    expect(await check(assemble('{"alg":"HS256"}', twiceAud))).toEqual(INVALID)
  })

  it('JWT-18: non-UTF-8, overlong UTF-8 or a BOM in the header is refused', async () => {
    const payload = JSON.stringify(claims())
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((part) => Buffer.from(part as string)))
    expect(await check(assemble(bytes('{"alg":"HS256","x":"', [0xff], '"}'), payload))).toEqual(
      INVALID,
    )
    // An overlong "/" (0xC0 0xAF) and an overlong NUL (0xC0 0x80).
    for (const overlong of [
      [0xc0, 0xaf],
      [0xc0, 0x80],
    ]) {
      expect(await check(assemble(bytes('{"alg":"HS256","x":"', overlong, '"}'), payload))).toEqual(
        INVALID,
      )
    }
    expect(await check(assemble(bytes([0xef, 0xbb, 0xbf], '{"alg":"HS256"}'), payload))).toEqual(
      INVALID,
    )
    expectAccepted(await check(assemble('{"alg":"HS256","x":"é"}', payload)))
  })

  it('JWT-19: 4 or 2 segments, padding, foreign characters and non-canonical base64url are refused', async () => {
    const good = token()
    const [header, payload, signature] = good.split('.') as [string, string, string]
    const last = signature.at(-1) ?? ''
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    // Same bytes, other spelling: only the 2 spare bits of the last character differ.
    const respelled = signature.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] ?? '')
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(signature, 'base64url'))
    const vectors = [
      `${good}.${signature}`,
      `${header}.${payload}`,
      `${header}.${payload}.${signature}=`,
      `${header}=.${payload}.${signature}`,
      `${header}.${payload}.${signature.slice(0, 10)}+${signature.slice(11)}`,
      `${header}.${payload}.${signature.slice(0, 10)}/${signature.slice(11)}`,
      `${header}.${payload}.${signature.slice(0, 10)} ${signature.slice(11)}`,
      `${header}.${payload}.${respelled}`,
      `${header}..${signature}`,
      '',
    ]
    for (const vector of vectors) expect(await check(vector), vector).toEqual(INVALID)
    // A leading space is part of the token for the verifier; on the wire it is the header's
    // optional whitespace after "Bearer", so there the same text is the valid token.
    if (mode === 'verifier') expect(await check(` ${good}`)).toEqual(INVALID)
    else expectAccepted(await check(` ${good}`))
  })

  it('JWT-20: a real-shaped OpenAI id_token (RS256, other iss/aud) is refused', async () => {
    const { privateKey } = await generateKeyPair('RS256')
    const idToken = await new SignJWT({
      email: 'user@example.com',
      'https://api.openai.com/auth': { chatgpt_account_id: 'acc-1', chatgpt_plan_type: 'plus' },
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'JWT' })
      .setIssuer('https://auth.openai.com')
      .setAudience('app_EMoamEEZ73f0CkXaXp7hrann')
      .setSubject('auth0|user')
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 3600)
      .sign(privateKey)
    expect(await check(idToken)).toEqual(INVALID)
  })

  it('JWT-21: exp as a string, a float or 1e30 is refused (and fractional nbf/iat)', async () => {
    for (const exp of [String(NOW_S + 600), NOW_S + 600.5, 1e30, -1, null, true]) {
      expect(await check(token(undefined, claims({ exp }))), String(exp)).toEqual(INVALID)
    }
    expect(await check(token(undefined, claims({ nbf: NOW_S - 0.5 })))).toEqual(INVALID)
    expect(await check(token(undefined, claims({ iat: NOW_S + 0.25 })))).toEqual(INVALID)
    expect(await check(token(undefined, claims({ nbf: 'yesterday' })))).toEqual(INVALID)
  })

  it('JWT-22: a 64 KB token is refused; one just under 8 KiB is accepted', async () => {
    expect(await check(token(undefined, claims({ pad: 'x'.repeat(64 * 1024) })))).toEqual(INVALID)
    let pad = 5000
    while (token(undefined, claims({ pad: 'x'.repeat(pad + 1) })).length <= 8192) pad += 1
    const largest = token(undefined, claims({ pad: 'x'.repeat(pad) }))
    expect(largest.length).toBeLessThanOrEqual(8192)
    expectAccepted(await check(largest))
    expect(await check(token(undefined, claims({ pad: 'x'.repeat(pad + 3) })))).toEqual(INVALID)
  })

  it('JWT-23: kid naming a path or a URL is ignored (the attacker key is never used)', async () => {
    for (const kid of ['../../../../dev/null', '/etc/passwd', 'http://127.0.0.1:9/key']) {
      // Signed with what such a kid would load: an empty key, a file's content.
      expect(await check(token({ alg: 'HS256', kid }, claims(), ''))).toEqual(INVALID)
      expect(await check(token({ alg: 'HS256', kid }, claims(), 'root:x:0:0'))).toEqual(INVALID)
      expectAccepted(await check(token({ alg: 'HS256', kid })))
    }
  })

  it('JWT-24: jku/x5u/jwk headers are ignored and never fetched (0 outbound requests)', async () => {
    let hits = 0
    const server = createServer((_request, response) => {
      hits += 1
      response.end('{"keys":[]}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const attackerSecret = 'attacker-secret-attacker-secret-attacker'
      const { privateKey, publicKey } = await generateKeyPair('RS256')
      const rsaJwk = await exportJWK(publicKey)
      const octJwk = { kty: 'oct', k: b64(attackerSecret) }
      const headers = [
        { alg: 'HS256', jku: `${base}/jwks.json` },
        { alg: 'HS256', x5u: `${base}/cert.pem` },
        { alg: 'HS256', jwk: octJwk },
      ]
      for (const header of headers) {
        expect(await check(token(header, claims(), attackerSecret))).toEqual(INVALID)
        expectAccepted(await check(token(header)))
      }
      const embedded = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'RS256', jwk: rsaJwk, jku: `${base}/jwks.json` })
        .sign(privateKey)
      expect(await check(embedded)).toEqual(INVALID)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(hits).toBe(0)
      // The counter works: a real request is counted.
      await fetch(`${base}/probe`)
      expect(hits).toBe(1)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('signed bearer configuration', () => {
  it('refuses an unsafe secret file with the fix, and a non-UTF-8 one', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'secret')
    await writeFile(file, 's'.repeat(40), { mode: 0o600 })
    await chmod(file, 0o644)
    const unsafe: unknown = await loadSharedSecretFile(file).catch((caught: unknown) => caught)
    expect(isBrokerError(unsafe, 'ERR_UNSAFE_FILE')).toBe(true)
    expect(String(unsafe)).toContain(`chmod 600 ${file}`)
    const binary = join(dir, 'binary')
    await writeFile(binary, Buffer.concat([Buffer.alloc(40, 0x61), Buffer.from([0xff])]), {
      mode: 0o600,
    })
    const error: unknown = await loadSharedSecretFile(binary).catch((caught: unknown) => caught)
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    expect(String(error)).toMatch(/not UTF-8 text/)
  })

  it('refuses a bad skew or an empty issuer/audience, and uses the default skew of 30 s', async () => {
    expect(() => verifier({ maxClockSkewSeconds: -1 })).toThrow(/clock skew/)
    expect(() => verifier({ maxClockSkewSeconds: 1.5 })).toThrow(/clock skew/)
    expect(() => verifier({ issuer: ' ' })).toThrow(/issuer/)
    expect(() => verifier({ audience: '' })).toThrow(/audience/)
    const defaults = createJwtVerifier({ secret: SECRET, now: () => NOW_S * 1000 })
    expectAccepted(await defaults.verify(token(undefined, claims({ exp: NOW_S - 29 }))))
    expect(await defaults.verify(token(undefined, claims({ exp: NOW_S - 30 })))).toEqual({
      ok: false,
      reason: 'expired websocket jwt',
    })
  })

  it('copies the key, so changing the caller buffer afterwards changes nothing', async () => {
    const secret = Buffer.from(SECRET)
    const copy = verifier({ secret })
    secret.fill(0)
    expectAccepted(await copy.verify(token()))
  })
})
