/**
 * The `capability-token` mode of the app-server (PROTOCOL.md §10, SECURITY.md C3.3): a client
 * presents a fixed token; the server keeps only its SHA-256 and compares digests in constant time.
 * The token comes from a private file (`--ws-token-file`) or as the hex digest itself
 * (`--ws-token-sha256`). Unlike the official CLI, a token file that group or other users can read
 * is refused, as OpenSSH refuses such key files.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  BrokerError,
  DEFAULT_SECRET_FILE_MAX_BYTES,
  Secret,
  assertPrivateFile,
  quoteForShell,
} from '../../lib/index.js'

/**
 * Checks presented capability tokens. It holds the SHA-256 of the token, never the token, and only
 * in a closure: printing or serialising it shows nothing.
 */
export interface CapabilityVerifier {
  /** True when SHA-256(`presented`, UTF-8) equals the expected digest (constant-time). */
  verify(presented: string): boolean
}

const SHA256_HEX = /^[0-9a-f]{64}$/i

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

function verifierFor(expected: Buffer): CapabilityVerifier {
  return Object.freeze({
    verify(presented: string): boolean {
      // Both sides are 32-byte digests, so the comparison time says nothing about the token.
      return timingSafeEqual(digestOf(presented), expected)
    },
  })
}

/**
 * Reads `--ws-token-file`: the file must be private (0600 or stricter, not a symbolic link, owned
 * by you, at most 64 KiB) and hold a non-empty token once trimmed. Only the token's SHA-256 is kept.
 *
 * @throws {BrokerError} `ERR_UNSAFE_FILE` (with the fix, e.g. `chmod 600 FILE`), `ERR_NOT_FOUND`,
 * or `ERR_INVALID_CONFIG` for an empty file.
 *
 * @example
 * const verifier = await loadCapabilityTokenFile(`${home}/.codex-broker/ws-token`)
 * verifier.verify(presentedToken) // true or false
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export async function loadCapabilityTokenFile(path: string): Promise<CapabilityVerifier> {
  const content = await assertPrivateFile(path, { maxBytes: DEFAULT_SECRET_FILE_MAX_BYTES })
  const token = content.trim()
  if (token === '') {
    const fix = `Write a token into it with: (umask 077 && openssl rand -base64 32 > ${quoteForShell(path)})`
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      `The capability token file ${path} is empty. ${fix}`,
      {
        hint: fix,
      },
    )
  }
  return verifierFor(digestOf(token))
}

/**
 * A verifier from `--ws-token-sha256`: exactly 64 hex digits (either case), the SHA-256 of the
 * token's UTF-8 bytes. The refusal never repeats the value, which may be a token pasted by mistake.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` when `hex` is not 64 hex digits.
 *
 * @example
 * capabilityFromSha256(sha256Hex(token)).verify(token) // true
 * @see https://www.rfc-editor.org/rfc/rfc6234
 */
export function capabilityFromSha256(hex: string): CapabilityVerifier {
  if (!SHA256_HEX.test(hex)) {
    const hint = 'Compute it with: printf %s "$TOKEN" | sha256sum'
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      `--ws-token-sha256 must be 64 hexadecimal characters (a SHA-256), got ${hex.length} characters. ${hint}`,
      { hint },
    )
  }
  return verifierFor(Buffer.from(hex, 'hex'))
}

/**
 * A fresh capability token: 32 bytes from the CSPRNG, base64url (43 characters).
 *
 * @example
 * const token = generateCapabilityToken()
 * await writeFile(tokenFile, `${token.reveal()}\n`, { mode: 0o600 })
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-5
 */
export function generateCapabilityToken(): Secret {
  return Secret.from(randomBytes(32).toString('base64url'))
}
