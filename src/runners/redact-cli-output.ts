/**
 * What the Codex CLI prints is scrubbed before it goes anywhere (SECURITY.md §1.6). Two rules for two channels:
 *
 * - **stderr** (diagnostics, only ever logged, never sent to a client): `redactText` with every token of the run
 *   as a known secret — the exact values and their encodings, plus JWTs, `sk-…` keys, `Bearer …`, secret JSON
 *   members and long opaque runs — then control characters other than newline and tab are dropped, so a log
 *   line cannot be forged with `\r` or terminal escapes;
 * - **the agent's answer text** (sent to the client): only the exact known secrets of the run and their
 *   base64, base64url, URL-encoded and JSON-escaped forms are replaced. The agent's tools can read its
 *   `CODEX_HOME`, so a prompt that asks for `auth.json` must not get the tokens back — but the answer is code
 *   and prose, where the pattern rules would shred commit hashes and identifiers. A transformed token (reversed,
 *   split, hex) is not caught: docs/runners.md says so.
 */
import { MIN_KNOWN_SECRET_LENGTH, REDACTED, redactText } from '../lib/index.js'

function encodingsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8')
  const base64 = bytes.toString('base64')
  return [
    value,
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ]
}

/**
 * The agent's text with every known secret (and its common encodings) replaced by `[REDACTED]`; nothing else
 * changes.
 *
 * @example
 * scrubKnownSecrets(`token: ${accessToken}`, [accessToken]) // 'token: [REDACTED]'
 * scrubKnownSecrets('commit 3f2b8a4e9c1d4e5f8a7b1c2d3e4f5a6b7c8d9e0f', [accessToken]) // unchanged
 */
export function scrubKnownSecrets(text: string, secrets: Iterable<string>): string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret.length < MIN_KNOWN_SECRET_LENGTH) continue
    for (const form of encodingsOf(secret)) forms.add(form)
  }
  let result = text
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (result.includes(form)) result = result.split(form).join(REDACTED)
  }
  return result
}

/**
 * The CLI's stderr, safe for a log: redacted (known secrets and token patterns) and without control characters
 * other than newline and tab.
 *
 * @example
 * logger.warn({ event: 'runner.stderr', stderr: redactStderr(stderr, secrets) }, 'runner.stderr')
 */
export function redactStderr(stderr: string, secrets: Iterable<string>): string {
  // eslint-disable-next-line no-control-regex -- the point is to remove control characters
  const printable = stderr.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '')
  return redactText(printable, { knownSecrets: secrets })
}
