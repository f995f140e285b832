/**
 * Scrubs token-shaped substrings out of free text (log messages, error messages, stack traces,
 * upstream error bodies) before it reaches any output channel. It is a safety net behind the
 * `Secret` type and the key allowlist, not a substitute for them. What is replaced by
 * `[REDACTED]`, in this order:
 *
 * 1. exact known secret values passed by the caller, and their base64, base64url, URL-encoded and
 *    JSON-escaped forms (values shorter than 8 characters are ignored: they would match ordinary
 *    text);
 * 2. JWTs and JWT-like base64url JSON (`eyJ…` header with one to four more dot segments, or a
 *    lone `eyJ…` run of 15+ characters);
 * 3. OpenAI-style keys: `sk-…` (including `sk-proj-…`, `sk-svcacct-…`) and `sess-…`;
 * 4. the credential after an HTTP auth scheme word: `Bearer <value>` (the word stays);
 * 5. header lines for `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
 *    `X-Api-Key`, `Api-Key`, `X-Proxy-Token` (everything after the colon, to end of line);
 * 6. JSON string members whose name is a secret key (`"refresh_token": "…"`; numbers are kept);
 * 7. query and form parameters whose name is a secret key, plus `code` after `?` or `&`
 *    (`?code=…&state=…` keeps the state);
 * 8. long opaque runs: 32 or more characters of `[A-Za-z0-9_-]` containing at least one letter
 *    and one digit — unless, after removing canonical UUIDs, every `-`/`_`-separated part is a
 *    plain word (`codex`, `Broker`, `ACCOUNT`) or a number. So UUIDs, `req-<uuid>` ids and
 *    dash-joined words survive, while hex digests, base64url tokens and `CANARY_AT_<hex>` do not.
 *
 * Known gaps, by design: standard base64 with `+`/`/` is caught only where a piece between those
 * characters is itself a long run; secrets shorter than 32 characters with no recognisable prefix
 * or label are not detected (use `Secret` and the key allowlist for those).
 */
import type { Revealable } from './safe-equal.js'
import { isSecretKey } from './secret-keys.js'

/** The marker that replaces every redacted value. */
export const REDACTED = '[REDACTED]'

/** Options for {@link redactText}. */
export interface RedactTextOptions {
  /**
   * Exact secret values to scrub wherever they appear (with their common encodings). Read at
   * every call, so a `Set` that grows later keeps working.
   */
  readonly knownSecrets?: Iterable<string | Revealable> | undefined
}

/** Known secret values shorter than this are ignored (they would shred ordinary text). */
export const MIN_KNOWN_SECRET_LENGTH = 8

const JWT_PATTERN =
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]+){1,4}|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{12,}/g
const API_KEY_PATTERN = /(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_-]{16,}|sess-[A-Za-z0-9]{20,})/g
const BEARER_PATTERN = /\b(Bearer)(\s+)(?!\[REDACTED\])[^\s"'\\,;]+/gi
const HEADER_LINE_PATTERN =
  /\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-proxy-token)([ \t]*:[ \t]*)(?![ \t]*\[REDACTED\])[^\s"][^\r\n"]*/gi
const JSON_MEMBER_PATTERN = /"([A-Za-z0-9_.-]{1,64})"(\s*:\s*)"(?:[^"\\]|\\.)*"/g
const PARAM_PATTERN = /(^|[?&;#\s])([A-Za-z0-9_.[\]-]{1,64})=([^&#;\s"'<>]*)/g
const LONG_RUN_PATTERN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])/g
const UUID_PATTERN = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g
const PLAIN_PART = /^(?:[a-z]+|[A-Z]+|[A-Z][a-z]+|[0-9]+)$/

function isOpaqueRun(run: string): boolean {
  if (!/[A-Za-z]/.test(run) || !/[0-9]/.test(run)) return false
  const parts = run.replace(UUID_PATTERN, '-').split(/[-_]/)
  return !parts.every((part) => part === '' || PLAIN_PART.test(part))
}

function encodingsOf(value: string): string[] {
  const forms = new Set<string>([value])
  const bytes = Buffer.from(value, 'utf8')
  forms.add(bytes.toString('base64'))
  forms.add(bytes.toString('base64').replace(/=+$/, ''))
  forms.add(bytes.toString('base64url'))
  forms.add(encodeURIComponent(value))
  forms.add(JSON.stringify(value).slice(1, -1))
  return [...forms]
}

function redactKnown(text: string, knownSecrets: Iterable<string | Revealable>): string {
  const forms: string[] = []
  for (const secret of knownSecrets) {
    const value = typeof secret === 'string' ? secret : secret.reveal()
    if (value.length < MIN_KNOWN_SECRET_LENGTH) continue
    forms.push(...encodingsOf(value))
  }
  forms.sort((a, b) => b.length - a.length)
  let result = text
  for (const form of forms) {
    if (result.includes(form)) result = result.split(form).join(REDACTED)
  }
  return result
}

/**
 * Returns `text` with token-shaped substrings replaced by `[REDACTED]` (rules in the module
 * comment). Idempotent: redacting twice gives the same result as once.
 *
 * @example
 * redactText('auth failed for Bearer abc.def.ghi') // 'auth failed for Bearer [REDACTED]'
 * redactText('request 3f2b8a4e-9c1d-4e5f-8a7b-1c2d3e4f5a6b ok') // unchanged: a UUID
 * redactText('key leaked', { knownSecrets: [apiKey] })
 */
export function redactText(text: string, options: RedactTextOptions = {}): string {
  let result = text
  if (options.knownSecrets !== undefined) result = redactKnown(result, options.knownSecrets)
  return result
    .replace(JWT_PATTERN, REDACTED)
    .replace(API_KEY_PATTERN, REDACTED)
    .replace(
      BEARER_PATTERN,
      (_match, scheme: string, space: string) => `${scheme}${space}${REDACTED}`,
    )
    .replace(
      HEADER_LINE_PATTERN,
      (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`,
    )
    .replace(JSON_MEMBER_PATTERN, (match, name: string, separator: string) =>
      isSecretKey(name) ? `"${name}"${separator}"${REDACTED}"` : match,
    )
    .replace(PARAM_PATTERN, (match, lead: string, name: string, value: string) => {
      const secret = isSecretKey(name) || (name === 'code' && (lead === '?' || lead === '&'))
      return secret && value !== '' && value !== REDACTED ? `${lead}${name}=${REDACTED}` : match
    })
    .replace(LONG_RUN_PATTERN, (run) => (isOpaqueRun(run) ? REDACTED : run))
}
