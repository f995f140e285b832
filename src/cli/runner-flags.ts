/**
 * The runner flags: `serve --agent-runner direct|codex-cli` (the runner of `agent/run`) and `web --runner
 * direct|codex-cli` (the runner of `POST /run/stream`), each with `--codex-binary PATH` for the `codex-cli`
 * runner. Checked once here: an unknown kind, or `--codex-binary` without `codex-cli`, keeps the command from
 * starting. The `codex` binary is looked for on this process's `PATH` (read here, the only folder that reads the
 * environment), which also becomes the agent's `PATH`; nothing else of the environment reaches the agent.
 */
import { z } from 'zod'
import { BrokerError } from '../lib/index.js'
import type { CodexCliRunnerOptions, RunnerKind } from '../runners/index.js'

/** A runner kind flag. */
export const runnerKindOption = z.enum(['direct', 'codex-cli'], {
  error: 'must be direct or codex-cli',
})

/**
 * The `codex-cli` runner's binary and search path from the flags; throws when `--codex-binary` is given without
 * `codex-cli`.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` naming the flags.
 * @example
 * const located = codexCliLocation('--agent-runner', options.agentRunner, options.codexBinary)
 */
export function codexCliLocation(
  kindFlag: string,
  kind: RunnerKind | undefined,
  codexBinary: string | undefined,
): Pick<CodexCliRunnerOptions, 'binary' | 'searchPath'> {
  if (codexBinary !== undefined && kind !== 'codex-cli') {
    throw new BrokerError('ERR_INVALID_CONFIG', `--codex-binary needs ${kindFlag} codex-cli.`, {
      hint: `Add ${kindFlag} codex-cli, or leave --codex-binary out.`,
    })
  }
  const searchPath = process.env.PATH
  return {
    ...(codexBinary === undefined ? {} : { binary: codexBinary }),
    ...(searchPath === undefined || searchPath === '' ? {} : { searchPath }),
  }
}
