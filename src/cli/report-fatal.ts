/**
 * The last line of defence for the command line: an error that reached the top is printed as its code and a
 * redacted message with the hint of what to do, never as a raw stack that might carry a token.
 */
import { isBrokerError, redactText } from '../lib/index.js'

/** Prints a fatal error to stderr and sets a failing exit code. */
export function reportFatal(error: unknown): void {
  if (isBrokerError(error)) {
    const hint = error.hint ? `\n${error.hint}` : ''
    process.stderr.write(`codex-broker: ${error.code}: ${error.message}${hint}\n`)
  } else if (error instanceof Error) {
    process.stderr.write(`codex-broker: ${redactText(error.message)}\n`)
  } else {
    process.stderr.write('codex-broker: unexpected failure\n')
  }
  process.exitCode = 1
}
