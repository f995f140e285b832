/**
 * The `error` events a run ends with, in one place: the runners' own codes with their fixed messages, and the
 * conversion of anything thrown into an event. A `BrokerError` keeps its (already redacted) message and its code
 * in the snake_case form the web handler uses (`ERR_NEEDS_LOGIN` → `needs_login`); an abort of the caller's
 * signal is `aborted`; anything else is `internal` with a generic message, so no upstream body, file content or
 * secret ever reaches a client through an error.
 */
import { isBrokerError, toPublicError } from '../lib/index.js'
import type { TerminalRunEvent } from './runner.js'

/** The codes a runner produces itself (other codes come from `BrokerError`s, e.g. `needs_login`). */
export type RunErrorCode =
  | 'run_in_progress'
  | 'agent_failed'
  | 'agent_exited'
  | 'agent_start_failed'
  | 'timeout'
  | 'output_too_large'
  | 'aborted'
  | 'internal'

const MESSAGES: Readonly<Record<RunErrorCode, string>> = {
  run_in_progress:
    'This account already has an agent run in progress; wait for it to finish before starting another.',
  agent_failed: 'The agent turn failed.',
  agent_exited: 'The Codex CLI stopped before the turn completed.',
  agent_start_failed: 'The Codex CLI could not be started.',
  timeout: 'The run took longer than the time limit and was stopped.',
  output_too_large: 'The Codex CLI printed more than the output limit; the run was stopped.',
  aborted: 'The run was cancelled.',
  internal: 'Internal error',
}

/**
 * The `error` event of a runner code, with its fixed message (or `message` when given).
 *
 * @example
 * yield runError('timeout') // {type: 'error', code: 'timeout', message: 'The run took longer than …'}
 */
export function runError(code: RunErrorCode, message?: string): TerminalRunEvent {
  return { type: 'error', code, message: message ?? MESSAGES[code] }
}

/**
 * The `error` event for anything thrown during a run.
 *
 * @example
 * try { … } catch (error) { yield runErrorFrom(error, input.signal) }
 */
export function runErrorFrom(error: unknown, signal?: AbortSignal): TerminalRunEvent {
  if (signal?.aborted === true && !isBrokerError(error)) return runError('aborted')
  if (!isBrokerError(error)) return runError('internal')
  const body = toPublicError(error)
  const message = body.hint === undefined ? body.message : `${body.message} ${body.hint}`
  return { type: 'error', code: body.code.replace(/^ERR_/, '').toLowerCase(), message }
}
