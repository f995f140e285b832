/**
 * The JSONL that `codex exec --json` prints on stdout, turned into run events. The shapes come from the official
 * CLI's source, `codex-rs/exec/src/exec_events.rs` (the `ThreadEvent` enum, `#[serde(tag = "type")]`) and its
 * mapper `codex-rs/exec/src/event_processor_with_jsonl_output.rs`, and were checked against `@openai/codex`
 * 0.169.0 running against the simulator:
 *
 * - `{"type":"thread.started","thread_id"}`, `{"type":"turn.started"}` — progress, no event;
 * - `{"type":"item.started"|"item.updated"|"item.completed","item":{"id","type",…}}` — an `item.completed` whose
 *   `item.type` is `agent_message` carries the answer in `item.text` (the CLI prints whole messages, never
 *   deltas) and becomes one `text` event; several messages in a turn are separated by a blank line. Reasoning,
 *   commands, file changes, tool calls, to-do lists and `error` items (non-fatal warnings such as "Model metadata
 *   … not found") are not forwarded: they may quote files and command output;
 * - `{"type":"turn.completed","usage":{"input_tokens","cached_input_tokens","output_tokens",…}}` — the end:
 *   `done`, with the usage in the Responses API shape the direct runner reports (`input_tokens`,
 *   `input_tokens_details.cached_tokens`, `output_tokens`, `output_tokens_details.reasoning_tokens`,
 *   `total_tokens`), numbers only;
 * - `{"type":"turn.failed","error":{"message"}}` — the end: `error` `agent_failed` (the CLI's message, which may
 *   quote an upstream body, is kept for the log only);
 * - `{"type":"error","message"}` — **not** an end: the CLI prints it for each reconnect attempt ("Reconnecting…
 *   2/5") and before `turn.failed`; the last one is kept for the log.
 *
 * Lines that are not JSON objects with a string `type`, and types this module does not know (`item.plan.delta`,
 * `request_user_input`, newer ones), are ignored. A process that ends without `turn.completed` or `turn.failed`
 * ends the run with `agent_exited` (see {@link CodexExecTranslator.finish}).
 */
import { z } from 'zod'
import { runError } from './run-error.js'
import type { RunEvent, TerminalRunEvent } from './runner.js'

const count = z.number().int().nonnegative().catch(0).optional()

const usageSchema = z.looseObject({
  input_tokens: count,
  cached_input_tokens: count,
  output_tokens: count,
  reasoning_output_tokens: count,
})

const eventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('thread.started'), thread_id: z.string().optional() }),
  z.looseObject({ type: z.literal('turn.started') }),
  z.looseObject({
    type: z.literal('item.completed'),
    item: z.looseObject({ type: z.string(), text: z.string().optional() }),
  }),
  z.looseObject({ type: z.literal('turn.completed'), usage: usageSchema.nullish() }),
  z.looseObject({
    type: z.literal('turn.failed'),
    error: z.looseObject({ message: z.string().optional() }).nullish(),
  }),
  z.looseObject({ type: z.literal('error'), message: z.string().optional() }),
])

/** One `codex exec --json` line this module understands. */
export type CodexExecEvent = z.output<typeof eventSchema>

/** The token usage of a turn, in the Responses API shape. */
export interface RunUsage {
  readonly input_tokens: number
  readonly input_tokens_details: { readonly cached_tokens: number }
  readonly output_tokens: number
  readonly output_tokens_details: { readonly reasoning_tokens: number }
  readonly total_tokens: number
}

/** How the CLI's process ended, as far as the translator cares. */
export interface CodexExecExit {
  /** The exit code, or null when a signal ended it. */
  readonly exitCode: number | null
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null
}

/**
 * Parses one stdout line; null for anything that is not a known event (blank, not JSON, unknown type, wrong
 * shape).
 *
 * @example
 * parseCodexExecLine('{"type":"turn.started"}') // {type: 'turn.started'}
 * parseCodexExecLine('Reading additional input from stdin...') // null
 */
export function parseCodexExecLine(line: string): CodexExecEvent | null {
  const trimmed = line.trim()
  if (!trimmed.startsWith('{')) return null
  let json: unknown
  try {
    json = JSON.parse(trimmed)
  } catch {
    return null
  }
  const parsed = eventSchema.safeParse(json)
  return parsed.success ? parsed.data : null
}

/**
 * The Responses-shaped usage of a `turn.completed` usage object.
 *
 * @example
 * runUsage({ input_tokens: 10, cached_input_tokens: 4, output_tokens: 3 }).total_tokens // 13
 */
export function runUsage(usage: z.output<typeof usageSchema> | null | undefined): RunUsage {
  const input = usage?.input_tokens ?? 0
  const output = usage?.output_tokens ?? 0
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage?.cached_input_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage?.reasoning_output_tokens ?? 0 },
    total_tokens: input + output,
  }
}

/**
 * Turns the lines of one `codex exec --json` run into run events: feed each stdout line to
 * {@link CodexExecTranslator.accept}, then call {@link CodexExecTranslator.finish} once the process ended.
 *
 * @example
 * const translator = new CodexExecTranslator()
 * for await (const line of lines) for (const event of translator.accept(line)) send(event)
 * send(translator.finish({ exitCode, signal }))
 */
export class CodexExecTranslator {
  #terminal: TerminalRunEvent | null = null
  #messages = 0
  #lastError: string | null = null
  #failure: string | null = null

  /** The terminal event once `turn.completed` or `turn.failed` was seen. */
  get terminal(): TerminalRunEvent | null {
    return this.#terminal
  }

  /** The CLI's own words for the failure (`turn.failed`, else the last `error`), for the log only. */
  get failureDetail(): string | null {
    return this.#failure ?? this.#lastError
  }

  /** The `text` events of one stdout line (none for most lines). Lines after the terminal event are ignored. */
  accept(line: string): RunEvent[] {
    if (this.#terminal !== null) return []
    const event = parseCodexExecLine(line)
    if (event === null) return []
    switch (event.type) {
      case 'item.completed': {
        const { item } = event
        if (item.type !== 'agent_message' || item.text === undefined || item.text === '') return []
        const delta = this.#messages === 0 ? item.text : `\n\n${item.text}`
        this.#messages += 1
        return [{ type: 'text', delta }]
      }
      case 'turn.completed':
        this.#terminal = { type: 'done', usage: runUsage(event.usage) }
        return []
      case 'turn.failed':
        this.#failure = event.error?.message ?? this.#lastError ?? 'turn failed'
        this.#terminal = runError('agent_failed')
        return []
      case 'error':
        this.#lastError = event.message ?? null
        return []
      case 'thread.started':
      case 'turn.started':
        return []
    }
  }

  /**
   * The run's terminal event once the process ended: the one seen on stdout, else `agent_exited` with the exit
   * code or signal in the message.
   */
  finish(exit: CodexExecExit): TerminalRunEvent {
    if (this.#terminal !== null) return this.#terminal
    const how =
      exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.exitCode)}`
    return runError('agent_exited', `The Codex CLI stopped (${how}) before the turn completed.`)
  }
}
