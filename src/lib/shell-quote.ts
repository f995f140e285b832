/**
 * Quotes a path for the copy-paste fix commands printed in error messages (`chmod 700 '…'`), so
 * a path with spaces or quotes still works when pasted into a POSIX shell.
 */

const SHELL_SAFE = /^[A-Za-z0-9_./~+:,@%=-]+$/

/**
 * Returns `value` unchanged when it needs no quoting, otherwise single-quoted.
 *
 * @example
 * quoteForShell('/home/ann/.codex-broker') // "/home/ann/.codex-broker"
 * quoteForShell("/tmp/it's here") // "'/tmp/it'\\''s here'"
 */
export function quoteForShell(value: string): string {
  if (value !== '' && SHELL_SAFE.test(value)) return value
  return `'${value.replaceAll("'", "'\\''")}'`
}
