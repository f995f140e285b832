/**
 * RS256 signing for the simulator's issuer. A fresh 2048-bit key pair per simulator, published as a JWKS at
 * `/.well-known/jwks.json`, so the tokens are real JWTs that any JOSE library can verify, like the real issuer's.
 * @see https://www.rfc-editor.org/rfc/rfc7515 (JWS) and RFC 7518 §3.3 (RS256)
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { randomBase64Url } from './random.js'

/** The public half as a JSON Web Key, with `kid`, `alg` and `use`. */
export interface SimJwk {
  kty: string
  n: string
  e: string
  kid: string
  alg: 'RS256'
  use: 'sig'
}

/** A signer holding one RSA key pair. */
export interface JwtSigner {
  /** Signs `claims` as a compact RS256 JWT. */
  sign(claims: Record<string, unknown>): string
  /** The JWKS document served by the issuer. */
  jwks(): { keys: SimJwk[] }
}

interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  kid: string
}

let sharedKey: SigningKey | undefined

/**
 * The process-wide signing key, made on first use. Making a 2048-bit RSA key takes hundreds of milliseconds, and
 * test suites start many simulators; sharing the key is harmless because each simulator accepts only the tokens
 * it recorded itself.
 */
function signingKey(): SigningKey {
  if (!sharedKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    sharedKey = { privateKey, publicKey, kid: randomBase64Url(12) }
  }
  return sharedKey
}

/** Creates a signer over the process-wide RSA key. */
export function createJwtSigner(): JwtSigner {
  const { privateKey, publicKey, kid } = signingKey()
  const header = base64UrlJson({ alg: 'RS256', typ: 'JWT', kid })
  return {
    sign(claims) {
      const signingInput = `${header}.${base64UrlJson(claims)}`
      const signature = sign('sha256', Buffer.from(signingInput), privateKey)
      return `${signingInput}.${signature.toString('base64url')}`
    },
    jwks() {
      return { keys: [publicJwk(publicKey, kid)] }
    },
  }
}

function publicJwk(publicKey: KeyObject, kid: string): SimJwk {
  const jwk = publicKey.export({ format: 'jwk' })
  return { kty: jwk.kty ?? 'RSA', n: jwk.n ?? '', e: jwk.e ?? '', kid, alg: 'RS256', use: 'sig' }
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
