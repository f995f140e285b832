/**
 * Decides whether a property, header, JSON or query-parameter name labels a secret. This is the
 * key allowlist of SECURITY.md §1.6: log objects, error details and text fragments such as
 * `"refresh_token":"…"` or `?code=…` have their value replaced wholesale when the name matches,
 * whatever the value looks like. Names are compared after lower-casing and dropping every
 * character other than a–z and 0–9, so `access_token`, `accessToken` and `X-Access-Token` are one
 * name. Names that end in `url`, `uri` or `endpoint` (`tokenUrl`, `authorization_endpoint`) are
 * addresses, not secrets, and are left to text redaction.
 */

/** Fragments that make any name containing them secret (`id_token`, `clientSecret`, `set-cookie`). */
const SECRET_FRAGMENTS: readonly string[] = [
  'token',
  'authorization',
  'cookie',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'apikey',
  'privatekey',
  'signingkey',
  'encryptionkey',
  'hmackey',
  'masterkey',
  'sessionkey',
  'verifier',
  'credential',
  'bearer',
  'jwt',
  'signature',
]

/** Names that are secret only when they are the whole name (`refresh`, not `lastRefresh`). */
const SECRET_EXACT: ReadonlySet<string> = new Set([
  'refresh',
  'devicecode',
  'authcode',
  'otp',
  'pin',
])

/** Suffixes that mark an address rather than a credential. */
const ADDRESS_SUFFIXES: readonly string[] = ['url', 'uri', 'endpoint']

/**
 * Normalises a name for comparison: lower case, letters and digits only.
 *
 * @example
 * normalizeKeyName('X-Refresh_Token') // 'xrefreshtoken'
 */
export function normalizeKeyName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

/**
 * Returns true when `name` labels a secret value (see the module comment for the rules).
 *
 * @example
 * isSecretKey('refresh_token') // true
 * isSecretKey('headers') // false
 * isSecretKey('tokenUrl') // false: an address
 * isSecretKey('input_tokens') // true, but redactValue keeps numbers, so usage counts survive
 */
export function isSecretKey(name: string): boolean {
  const normalized = normalizeKeyName(name)
  if (normalized === '') return false
  if (SECRET_EXACT.has(normalized)) return true
  if (ADDRESS_SUFFIXES.some((suffix) => normalized.endsWith(suffix))) return false
  return SECRET_FRAGMENTS.some((fragment) => normalized.includes(fragment))
}
