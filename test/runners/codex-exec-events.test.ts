/**
 * The `codex exec --json` translation, fed lines printed by `@openai/codex` 0.169.0 against the simulator (a
 * completed turn with a warning item and reasoning; a failed turn after reconnect errors) and the edge cases: lines
 * that are not events, unknown types, several answer messages, a process that ends without a terminal event.
 */
import { describe, expect, it } from 'vitest'
import {
  CodexExecTranslator,
  parseCodexExecLine,
  runUsage,
} from '../../src/runners/codex-exec-events.js'
import type { RunEvent } from '../../src/runners/index.js'

/** Recorded from `codex exec --json --skip-git-repo-check -m gpt-5.4 -` (0.169.0) against the simulator. */
const COMPLETED_TURN = [
  '{"type":"thread.started","thread_id":"01a20980-fbd6-7990-881e-855f6db08605"}',
  '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5.4` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}',
  '{"type":"turn.started"}',
  '{"type":"item.completed","item":{"id":"item_1","type":"reasoning","text":"**Reading the request**\\n\\nThe user wrote 20 characters; I will echo them back."}}',
  '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Echo: say hello from stdin"}}',
  '{"type":"turn.completed","usage":{"input_tokens":4968,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":27,"reasoning_output_tokens":20}}',
]

/** Recorded from 0.169.0 with a model the plan does not include, and with reconnects before the failure. */
const FAILED_TURN = [
  '{"type":"thread.started","thread_id":"01a20980-db52-7140-8f41-65100d47edce"}',
  '{"type":"turn.started"}',
  '{"type":"error","message":"Reconnecting... 2/5 (workspace routing discovery failed)"}',
  '{"type":"error","message":"{\\"detail\\":\\"The \'gpt-6.1-sol\' model is not supported when using Codex with a ChatGPT account.\\"}"}',
  '{"type":"turn.failed","error":{"message":"{\\"detail\\":\\"The \'gpt-6.1-sol\' model is not supported when using Codex with a ChatGPT account.\\"}"}}',
]

function translate(lines: string[], exit = { exitCode: 0, signal: null }): RunEvent[] {
  const translator = new CodexExecTranslator()
  const events = lines.flatMap((line) => translator.accept(line))
  return [...events, translator.finish(exit)]
}

describe('codex exec --json → run events', () => {
  it('a completed turn: the agent message as text, then done with the usage in the Responses shape', () => {
    expect(translate(COMPLETED_TURN)).toEqual([
      { type: 'text', delta: 'Echo: say hello from stdin' },
      {
        type: 'done',
        usage: {
          input_tokens: 4968,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 27,
          output_tokens_details: { reasoning_tokens: 20 },
          total_tokens: 4995,
        },
      },
    ])
  })

  it('a failed turn ends with agent_failed; the reconnect errors before it are not terminal', () => {
    const translator = new CodexExecTranslator()
    expect(FAILED_TURN.slice(0, 3).flatMap((line) => translator.accept(line))).toEqual([])
    expect(translator.terminal).toBeNull()
    for (const line of FAILED_TURN.slice(3)) translator.accept(line)
    expect(translator.finish({ exitCode: 1, signal: null })).toEqual({
      type: 'error',
      code: 'agent_failed',
      message: 'The agent turn failed.',
    })
    // The CLI's own words stay available for the log, never for the event.
    expect(translator.failureDetail).toContain('is not supported')
  })

  it('several answer messages are separated by a blank line; other items are not forwarded', () => {
    const events = translate([
      '{"type":"item.completed","item":{"id":"a","type":"agent_message","text":"First."}}',
      '{"type":"item.completed","item":{"id":"b","type":"command_execution","command":"cat secret","aggregated_output":"top secret","exit_code":0,"status":"completed"}}',
      '{"type":"item.started","item":{"id":"c","type":"agent_message","text":"ignored until completed"}}',
      '{"type":"item.completed","item":{"id":"d","type":"agent_message","text":"Second."}}',
      '{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}',
    ])
    expect(events.slice(0, 2)).toEqual([
      { type: 'text', delta: 'First.' },
      { type: 'text', delta: '\n\nSecond.' },
    ])
    expect(JSON.stringify(events)).not.toContain('top secret')
  })

  it('a process that ends without turn.completed or turn.failed ends the run with agent_exited', () => {
    expect(translate(COMPLETED_TURN.slice(0, 5), { exitCode: 0, signal: null }).at(-1)).toEqual({
      type: 'error',
      code: 'agent_exited',
      message: 'The Codex CLI stopped (exit code 0) before the turn completed.',
    })
    const killed = new CodexExecTranslator().finish({ exitCode: null, signal: 'SIGKILL' })
    expect(killed).toMatchObject({
      code: 'agent_exited',
      message: expect.stringContaining('signal SIGKILL') as unknown,
    })
  })

  it('lines after the terminal event are ignored', () => {
    const events = translate([
      ...COMPLETED_TURN,
      '{"type":"item.completed","item":{"id":"z","type":"agent_message","text":"late"}}',
    ])
    expect(events.filter((event) => event.type === 'text')).toHaveLength(1)
  })

  it('ignores what is not a known event: plain text, bad JSON, unknown types, wrong shapes', () => {
    for (const line of [
      '',
      'Reading additional input from stdin...',
      '{not json',
      '[1,2]',
      '{"type":"item.plan.delta","item_id":"x","delta":"plan"}',
      '{"type":"request_user_input","id":"t","call_id":"c","questions":[]}',
      '{"type":"item.completed"}',
      '{"type":"item.completed","item":{"type":"agent_message","text":42}}',
      '{"no":"type"}',
    ]) {
      expect(parseCodexExecLine(line)).toBeNull()
    }
    expect(parseCodexExecLine('  {"type":"turn.started"}  ')).toEqual({ type: 'turn.started' })
  })

  it('usage: missing or malformed counts are 0, unknown fields are dropped, the total is input + output', () => {
    expect(runUsage(null)).toEqual({
      input_tokens: 0,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 0,
    })
    const line = parseCodexExecLine(
      '{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":-1,"cached_input_tokens":"x","secret":"s"}}',
    )
    expect(line?.type).toBe('turn.completed')
    const usage = line?.type === 'turn.completed' ? runUsage(line.usage) : null
    expect(usage).toEqual({
      input_tokens: 5,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 5,
    })
  })
})
