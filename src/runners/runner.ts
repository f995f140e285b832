/**
 * The `Runner` contract: one model turn for one stored account, streamed as the three event shapes every surface
 * already speaks — `{type: "text", delta}` for each piece of answer text, then exactly one `{type: "done", usage}`
 * or `{type: "error", code, message}` — the same lines the web handler writes as NDJSON (DESIGN.md "The web
 * handler"). Two implementations share it: `DirectRunner` (one Responses request to the Codex backend with the
 * account's token; no tools) and `CodexCliRunner` (a full agent turn of the official `codex exec --json`, lent
 * the account's credentials for exactly one run). A surface picks one with a `runner: 'direct' | 'codex-cli'`
 * option and never learns which tokens were used: no event carries a token, a header or an upstream body.
 *
 * A run never throws: every failure — refused, sign-in needed, upstream error, timeout, abort — ends the stream
 * with an `error` event whose `code` is a snake_case string a client can switch on (`needs_login`,
 * `run_in_progress`, `timeout`, …) and whose `message` is a fixed, redacted sentence.
 */

/** Which runner a surface uses. */
export type RunnerKind = 'direct' | 'codex-cli'

/** What a run asks for. */
export interface RunInput {
  /** The stored account whose credentials the run uses (its `CredentialStore` id). */
  readonly accountId: string
  /** The user's prompt, as text. */
  readonly prompt: string
  /** The model; the runner's default when absent. */
  readonly model?: string
  /**
   * The working directory of an agent run (`CodexCliRunner` only; an absolute path to an existing directory).
   * Default: a fresh empty directory, deleted after the run. `DirectRunner` has no files and ignores it.
   */
  readonly cwd?: string
  /** Aborting it ends the run at once (the agent's whole process tree is killed); cleanup still happens. */
  readonly signal: AbortSignal
}

/** One event of a run: text pieces, then exactly one `done` or `error`. */
export type RunEvent =
  | { readonly type: 'text'; readonly delta: string }
  | { readonly type: 'done'; readonly usage: unknown }
  | { readonly type: 'error'; readonly code: string; readonly message: string }

/** The events that end a run. */
export type TerminalRunEvent = Extract<RunEvent, { type: 'done' | 'error' }>

/**
 * Runs one turn for one account.
 *
 * Iterate the answer to its end, or call its `return()` (a `for await` that `break`s does): either way the run's
 * cleanup has finished when that settles. `return()` takes effect at an event (an async generator queues it
 * behind a pending `next()`), so to stop a run that is waiting for its next event — a client disconnect — abort
 * `input.signal` first, then call `return()`.
 *
 * @example
 * for await (const event of runner.run({ accountId, prompt: 'Say hi', signal })) {
 *   if (event.type === 'text') process.stdout.write(event.delta)
 *   else if (event.type === 'error') console.error(`${event.code}: ${event.message}`)
 * }
 */
export interface Runner {
  /** Which kind of runner this is. */
  readonly kind: RunnerKind
  /** Starts a run when first iterated; the events end with exactly one `done` or `error`. */
  run(input: RunInput): AsyncGenerator<RunEvent, void, undefined>
}

/**
 * True for `done` and `error`.
 *
 * @example
 * if (isTerminalRunEvent(event)) break
 */
export function isTerminalRunEvent(event: RunEvent): event is TerminalRunEvent {
  return event.type !== 'text'
}
