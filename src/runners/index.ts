/**
 * Runners: one model turn for one stored account, streamed as `text` / `done` / `error` events — directly against
 * the Codex backend (`DirectRunner`) or as a full agent turn of the official Codex CLI lent the account's
 * credentials for one run (`CodexCliRunner`). docs/runners.md says when to use which. Re-exports only; the
 * package root re-exports this whole list, so the pieces of a CLI run (scratch space, event translation,
 * read-back, redaction, process handling) stay in their modules.
 */
export {
  isTerminalRunEvent,
  type RunEvent,
  type RunInput,
  type Runner,
  type RunnerKind,
  type TerminalRunEvent,
} from './runner.js'
export type { RunErrorCode } from './run-error.js'
export {
  DEFAULT_DIRECT_INSTRUCTIONS,
  DEFAULT_DIRECT_MODEL,
  DirectRunner,
  type DirectRunnerOptions,
  terminalRunEvent,
} from './direct-runner.js'
export {
  CLI_REFRESH_WINDOW_MS,
  CodexCliRunner,
  type CodexCliRunnerOptions,
  type CodexSandboxMode,
  DEFAULT_MAX_STDERR_BYTES,
  DEFAULT_MAX_STDOUT_BYTES,
  DEFAULT_RUN_TIMEOUT_MS,
  MAX_PROMPT_BYTES,
} from './codex-cli-runner.js'
export {
  type CodexBinary,
  CODEX_PACKAGE,
  findCodexBinary,
  type FindCodexBinaryOptions,
} from './find-codex-binary.js'
