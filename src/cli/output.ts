/**
 * How commands talk to the person or program that ran them. With `--json` every message is one JSON object per
 * line on stdout (`{"event": …}`), for scripts; otherwise plain lines for a person, with progress on stderr.
 * Errors are printed as their code and redacted message with the hint — never a stack, never a token.
 */
import { isBrokerError, redactText, toPublicError } from '../lib/index.js'
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js'

/** A command's output channel. */
export class CliOutput {
  constructor(
    /** One JSON object per line instead of text. */
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
    /** Whether a person is watching (spinners and countdowns only then). */
    readonly interactive: boolean = !json && process.stderr.isTTY,
  ) {}

  /** A machine-readable event (only with `--json`). */
  event(event: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
  }

  /** A line for a person (only without `--json`). */
  say(text: string): void {
    if (!this.json) this.stdout.write(`${text}\n`)
  }

  /** Progress or advice for a person, on stderr (only without `--json`). */
  note(text: string): void {
    if (!this.json) this.stderr.write(`${text}\n`)
  }

  /** Reports a failure and sets the exit code (2 for usage errors, else 1). */
  fail(error: unknown): void {
    const { code, message, hint } = toPublicError(error)
    const shown = isBrokerError(error) ? message : publicMessage(error, message)
    if (this.json) {
      this.stdout.write(
        `${JSON.stringify({ event: 'error', code, message: shown, ...(hint ? { hint } : {}) })}\n`,
      )
    } else {
      this.stderr.write(`codex-broker: ${code}: ${shown}${hint ? `\n${hint}` : ''}\n`)
    }
    process.exitCode = code === 'ERR_INVALID_CONFIG' ? EXIT_USAGE : EXIT_FAILURE
  }
}

/** A non-broker error from our own code: its message is redacted and kept, since it is ours, not upstream's. */
function publicMessage(error: unknown, fallback: string): string {
  return error instanceof Error ? redactText(error.message) : fallback
}
