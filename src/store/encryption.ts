/**
 * Encryption at rest for stored credentials (DESIGN.md "Credentials at rest"): AES-256-GCM with a 32-byte key,
 * a fresh random 12-byte IV for every write, and additional authenticated data naming the record (its kind and
 * account id), so a ciphertext copied from one account to another fails to open instead of handing one account
 * the other's tokens. The stored envelope is `{v: 1, alg: 'A256GCM', kid, iv, tag, data}` (binary fields
 * base64url). `kid` is a short public fingerprint of the key (an HMAC of a fixed label, revealing nothing about
 * the key): it lets a wrong key be reported as `ERR_WRONG_KEY` with advice, distinct from a tampered or damaged
 * record, which fails GCM authentication and is `ERR_CORRUPT_STORE`. `EncryptionKey` never prints its bytes.
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM)
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { z } from 'zod'
import { BrokerError, safeEqual } from '../lib/index.js'

/** The key length of AES-256, in bytes. */
export const ENCRYPTION_KEY_BYTES = 32

const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_ID_LABEL = 'codex-broker key id v1'
const REDACTED_TEXT = '[REDACTED]'
/** Key bytes live here, readable only by this module (no public accessor, unlike a `#field` getter). */
const KEY_BYTES = new WeakMap<EncryptionKey, Buffer>()

function bytesOf(key: EncryptionKey): Buffer {
  const bytes = KEY_BYTES.get(key)
  if (bytes === undefined) throw new TypeError('Not an EncryptionKey')
  return bytes
}

const KEY_FORMAT_HINT =
  'Use 32 random bytes written as 64 hex digits or 43/44 base64 characters, e.g. from: openssl rand -base64 32'

/**
 * A 32-byte AES-256-GCM key. Like `Secret`, every printing path yields `[REDACTED]`; `reveal()` (base64url) is
 * the single way out, used only to store the key in the keychain or the key file.
 *
 * @example
 * const key = EncryptionKey.parse(envValue, 'CODEX_BROKER_KEY')
 * const store = new FileCredentialStore({ home, encryption: key })
 */
export class EncryptionKey {
  /** A public fingerprint of the key (16 base64url characters), stored next to each ciphertext. */
  readonly id: string

  private constructor(bytes: Uint8Array) {
    if (bytes.length !== ENCRYPTION_KEY_BYTES) {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        `An encryption key must be ${ENCRYPTION_KEY_BYTES} bytes, got ${bytes.length}.`,
        { hint: KEY_FORMAT_HINT },
      )
    }
    const copy = Buffer.from(bytes)
    KEY_BYTES.set(this, copy)
    this.id = createHmac('sha256', copy)
      .update(KEY_ID_LABEL)
      .digest()
      .subarray(0, 12)
      .toString('base64url')
    Object.freeze(this)
  }

  /** Wraps 32 raw bytes (copied). */
  static fromBytes(bytes: Uint8Array): EncryptionKey {
    return new EncryptionKey(bytes)
  }

  /** A new random key. */
  static generate(): EncryptionKey {
    return new EncryptionKey(randomBytes(ENCRYPTION_KEY_BYTES))
  }

  /**
   * Parses a key written as 64 hex digits or as base64/base64url (43 or 44 characters). `source` names where
   * the text came from, for the error message; the value itself is never echoed.
   *
   * @throws {BrokerError} `ERR_INVALID_CONFIG` when the text is not 32 bytes in one of those forms.
   * @example
   * EncryptionKey.parse('q83vEjRWeJA…', 'CODEX_BROKER_KEY')
   */
  static parse(text: string, source = 'The encryption key'): EncryptionKey {
    const value = text.trim()
    let bytes: Buffer | undefined
    if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex')
    else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) bytes = Buffer.from(value, 'base64')
    if (bytes?.length !== ENCRYPTION_KEY_BYTES) {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        `${source} is not a valid encryption key: expected ${ENCRYPTION_KEY_BYTES} bytes as 64 hex digits or 43/44 base64 characters, got ${value.length} characters.`,
        { hint: KEY_FORMAT_HINT },
      )
    }
    return new EncryptionKey(bytes)
  }

  /** The key as base64url (43 characters). Only for writing it to the keychain or the key file. */
  reveal(): string {
    return bytesOf(this).toString('base64url')
  }

  /** Constant-time comparison with another key. */
  equals(other: EncryptionKey): boolean {
    return safeEqual(bytesOf(this), bytesOf(other))
  }

  /** Always `[REDACTED]`. */
  toString(): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]`. */
  toJSON(): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]`. */
  [Symbol.toPrimitive](): string {
    return REDACTED_TEXT
  }

  /** Always `[REDACTED]`. */
  [inspect.custom](): string {
    return REDACTED_TEXT
  }
}

const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/, 'expected base64url')

/** The zod schema of a stored envelope. */
export const encryptedEnvelopeSchema = z.object({
  v: z.literal(1),
  alg: z.literal('A256GCM'),
  kid: base64url.min(1),
  iv: base64url.min(1),
  tag: base64url.min(1),
  data: base64url,
})

/** An encrypted value as stored. */
export type EncryptedEnvelope = z.output<typeof encryptedEnvelopeSchema>

/**
 * Returns true when `value` looks like an envelope (has `alg`), whether or not it is a valid one.
 *
 * @example
 * if (looksEncrypted(record.auth)) auth = decryptJson(key, record.auth, aad, context)
 */
export function looksEncrypted(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'alg' in value && !('kind' in value)
}

/**
 * Encrypts the JSON form of `value`, binding it to `aad` (the record kind and id).
 *
 * @example
 * const envelope = encryptJson(key, { kind: 'apiKey', apiKey: 'sk-…' }, 'account-auth:acc-1')
 */
export function encryptJson(key: EncryptionKey, value: unknown, aad: string): EncryptedEnvelope {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', bytesOf(key), iv, {
    authTagLength: TAG_BYTES,
  })
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  return {
    v: 1,
    alg: 'A256GCM',
    kid: key.id,
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    data: data.toString('base64url'),
  }
}

/** Where an envelope was found, for {@link decryptJson}'s messages. */
export interface DecryptContext {
  /** The place, e.g. `/home/me/.codex-broker/accounts.json (account acc-1)`. */
  readonly where: string
  /** How to start over without the old key, e.g. `move /home/me/.codex-broker/accounts.json away`. */
  readonly removal: string
}

/**
 * The error for credentials written with another key (or for encrypted credentials and no key at all).
 *
 * @example
 * throw wrongKeyError({ where: path, removal: `move ${path} away` }, null)
 */
export function wrongKeyError(context: DecryptContext, key: EncryptionKey | null): BrokerError {
  const problem =
    key === null
      ? `The credentials in ${context.where} are encrypted, but no encryption key is configured.`
      : `The encryption key does not match the one the credentials in ${context.where} were written with.`
  const hint = `Set the right CODEX_BROKER_KEY (or restore the key file or keychain entry they were written with), or ${context.removal} and sign in again.`
  return new BrokerError('ERR_WRONG_KEY', `${problem} Nothing was changed. ${hint}`, { hint })
}

/**
 * Opens an envelope made by {@link encryptJson} with the same `aad`.
 *
 * @throws {BrokerError} `ERR_WRONG_KEY` when it was written with another key; `ERR_CORRUPT_STORE` when the
 * envelope is malformed, was tampered with, or belongs to another record.
 * @example
 * const auth = decryptJson(key, record.auth, 'account-auth:acc-1', { where, removal })
 */
export function decryptJson(
  key: EncryptionKey,
  envelope: unknown,
  aad: string,
  context: DecryptContext,
): unknown {
  const parsed = encryptedEnvelopeSchema.safeParse(envelope)
  if (!parsed.success) {
    throw corrupt(context, 'the encrypted record is malformed (unknown format or damaged fields)')
  }
  const { kid, iv, tag, data } = parsed.data
  if (kid !== key.id) throw wrongKeyError(context, key)
  const ivBytes = Buffer.from(iv, 'base64url')
  const tagBytes = Buffer.from(tag, 'base64url')
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
    throw corrupt(context, 'the encrypted record has a damaged IV or tag')
  }
  let plain: string
  try {
    const decipher = createDecipheriv('aes-256-gcm', bytesOf(key), ivBytes, {
      authTagLength: TAG_BYTES,
    })
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(tagBytes)
    plain = Buffer.concat([
      decipher.update(Buffer.from(data, 'base64url')),
      decipher.final(),
    ]).toString('utf8')
  } catch {
    throw corrupt(
      context,
      'the encrypted record failed authentication (it was modified, damaged, or copied from another account)',
    )
  }
  try {
    return JSON.parse(plain) as unknown
  } catch {
    throw corrupt(context, 'the decrypted record is not JSON')
  }
}

function corrupt(context: DecryptContext, problem: string): BrokerError {
  const hint = `Restore a good copy, or ${context.removal} and sign in again.`
  return new BrokerError(
    'ERR_CORRUPT_STORE',
    `Cannot read the credentials in ${context.where}: ${problem}. Nothing was changed. ${hint}`,
    { hint },
  )
}
