/**
 * `agent/run {prompt, model?, runId?, cwd?, accountId?}`: one turn of the server's agent runner (`agentRunner`,
 * e.g. a `CodexCliRunner`: a full Codex CLI agent turn lent the account's credentials for that run; see
 * docs/runners.md) for the named account or the default one. Each `RunEvent` — `{type: "text", delta}`, then one
 * `{type: "done", usage}` or `{type: "error", code, message}` — goes out as an `agent/event` notification
 * `{requestId, runId?, event}` (each awaited: a slow client slows the run's reading, not a buffer), then the call
 * is answered with `{status: "completed", usage}`, or, for an `error` event, with `-32000` whose message is the
 * event's fixed sentence and whose `data.code` is its code (`run_in_progress`, `needs_login`, `timeout`, …). One
 * run per account at a time on this server (a second is `-32000` with `data.code` `run_in_progress`).
 * `responses/cancel` (by JSON-RPC id or `runId`, same connection only — the table is shared with
 * `responses/create`) and the connection closing abort the run — the agent's process tree is killed — and,
 * once its cleanup has finished, answer `-32800 Request cancelled.` A `cwd` is refused unless the server allows
 * working directories (agent-work-dir.ts). Unknown params are refused rather than ignored, so a client never
 * believes an option it misspelled took effect.
 */
import { z } from 'zod'
import type { RunEvent } from '../../runners/index.js'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'
import type { RpcContext, RpcId, RpcMethod } from '../rpc/rpc-method.js'
import { pinnedAccountId } from './account-read.js'
import { resolveAccount } from './account-view.js'
import { resolveAgentWorkDir } from './agent-work-dir.js'
import { asServerError, serverError } from './method-failure.js'
import { parseParams } from './parse-params.js'
import { CANCELLED_MESSAGE } from './responses-methods.js'
import type { ResponseRuns } from './responses-runs.js'
import type { AppServerServices } from './services.js'

/** The message of `agent/run` on a server without an agent runner. */
export const NO_AGENT_RUNNER_MESSAGE =
  'agent/run is not available: this server was started without an agent runner (codex-broker serve --agent-runner codex-cli).'

/** Params of `agent/event`. */
export interface AgentEventParams {
  readonly requestId: RpcId
  readonly runId?: string
  readonly event: RunEvent
}

/** The result of `agent/run`. */
export interface AgentRunResult {
  readonly status: 'completed'
  readonly usage: unknown
}

const agentRunParams = z
  .object({
    prompt: z.string().min(1),
    model: z.string().min(1).max(128).optional(),
    runId: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1 to 128 printable ASCII characters')
      .optional(),
    cwd: z.string().min(1).optional(),
    accountId: z.string().min(1).optional(),
  })
  .strict()

const EXPECTED =
  '{"prompt": "…", "model"?: "gpt-5.4", "runId"?: "…", "accountId"?: "<id from account/list>"}'

/**
 * `agent/run`, over the in-flight table `runs` that `responses/cancel` reads.
 * @example
 * const runs = new ResponseRuns()
 * const methods = { ...createResponsesMethods(services, { runs }), ...createAgentMethods(services, runs) }
 */
export function createAgentMethods(
  services: AppServerServices,
  runs: ResponseRuns,
): Record<string, RpcMethod> {
  const active = new Set<string>()
  return {
    'agent/run': {
      handle: (params, context) => run(services, runs, active, params, context),
    },
  }
}

async function run(
  services: AppServerServices,
  runs: ResponseRuns,
  active: Set<string>,
  params: unknown,
  context: RpcContext,
): Promise<AgentRunResult> {
  const { prompt, model, runId, cwd, accountId } = parseParams(agentRunParams, params, EXPECTED)
  const runner = services.agentRunner
  if (runner === undefined) throw serverError(NO_AGENT_RUNNER_MESSAGE)
  const workDir =
    cwd === undefined ? undefined : await resolveAgentWorkDir(cwd, services.agentWorkDirs ?? [])
  let account
  try {
    account = await resolveAccount(
      services.store,
      accountId,
      accountId === undefined ? await pinnedAccountId(services.pool) : null,
    )
  } catch (error) {
    throw asServerError(error, 'The agent run')
  }
  if (active.has(account.id)) {
    throw new RpcError(
      RPC_ERROR_CODES.serverError,
      'This account already has an agent run in progress; wait for it to finish before starting another.',
      { code: 'run_in_progress' },
    )
  }
  const entry = runs.start(context.connectionId, context.requestId, runId, context.signal)
  active.add(account.id)
  // The run's own signal: cancelled with the table's, and by this method when it leaves early.
  const controller = new AbortController()
  const stop = (): void => {
    controller.abort(entry.signal.reason)
  }
  if (entry.signal.aborted) stop()
  else entry.signal.addEventListener('abort', stop, { once: true })
  const { signal } = controller
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve()
        },
        { once: true },
      )
  })
  const events = runner.run({
    accountId: account.id,
    prompt,
    ...(model === undefined ? {} : { model }),
    ...(workDir === undefined ? {} : { cwd: workDir }),
    signal,
  })
  let ended = false
  try {
    for (;;) {
      const next = await events.next()
      if (next.done === true) {
        ended = true
        throw new RpcError(RPC_ERROR_CODES.internalError, 'Internal error')
      }
      signal.throwIfAborted()
      const event = next.value
      const notification: AgentEventParams =
        runId === undefined
          ? { requestId: context.requestId, event }
          : { requestId: context.requestId, runId, event }
      // Backpressure: the next event is read only once this one is queued (or the run stopped).
      await Promise.race([context.notify('agent/event', notification), stopped])
      if (event.type === 'done') {
        ended = true
        return { status: 'completed', usage: event.usage }
      }
      if (event.type === 'error') {
        ended = true
        throw new RpcError(RPC_ERROR_CODES.serverError, event.message, { code: event.code })
      }
      signal.throwIfAborted()
    }
  } catch (error) {
    if (signal.aborted) throw new RpcError(RPC_ERROR_CODES.requestCancelled, CANCELLED_MESSAGE)
    throw error
  } finally {
    if (!ended) {
      // Abort first: a run waiting for its next event stops only on its signal (src/runners/runner.ts).
      controller.abort()
      await events.return(undefined).catch(() => undefined)
    }
    entry.signal.removeEventListener('abort', stop)
    entry.finish()
    active.delete(account.id)
  }
}
