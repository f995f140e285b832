/**
 * What the simulated model says, decided before a byte is written: deterministic from the request, so tests can
 * assert it. The answer text is `Echo: <last user text>` (right-padded with `.` when more chunks are asked for
 * than it has characters, so there are always exactly `streamChunks` non-empty deltas). When a function tool is
 * offered and the last user text says `call <name>`, the answer is a call to that tool instead, with the JSON
 * object that follows the name as its arguments (`{}` when none), unless the input ends with a tool's output:
 * then the model answers with text, as a real one does after its call returned, so an agent loop that keeps
 * offering its tools ends. A request with `reasoning` (effort other than
 * `none`) gets a reasoning item with a short summary first. Token counts are a quarter of the character counts,
 * rounded up; only identifiers are random.
 */
import { randomUUID } from 'node:crypto'
import type { ResponsesRequest } from './responses-request.js'

/** The reasoning item of an answer. */
export interface AnswerReasoning {
  id: string
  summary: string
  summaryChunks: readonly string[]
  /** Present when the request's `include` asked for `reasoning.encrypted_content`. */
  encryptedContent: string | null
}

/** The main output item of an answer: a message, or a function call. */
export type AnswerOutput =
  | { kind: 'message'; id: string; text: string; chunks: readonly string[] }
  | {
      kind: 'function_call'
      id: string
      callId: string
      name: string
      arguments: string
      chunks: readonly string[]
    }

/** Token usage as the `response.completed` event reports it. */
export interface AnswerUsage {
  inputTokens: number
  cachedTokens: number
  outputTokens: number
  reasoningTokens: number
  totalTokens: number
}

/** A fully decided answer. */
export interface Answer {
  responseId: string
  /** Unix seconds. */
  createdAt: number
  model: string
  /** `store` echoed in the response object (the simulator never stores anything). */
  store: boolean
  /** The `reasoning` parameters echoed in the response object. */
  reasoningParams: { effort: string | null; summary: string | null }
  reasoning: AnswerReasoning | null
  output: AnswerOutput
  usage: AnswerUsage
}

/** Inputs of `planAnswer` besides the request. */
export interface AnswerOptions {
  nowMs: number
  /** `streamChunks`: how many deltas the main output is cut into. */
  chunks: number
  /** Given the prompt's token count, answers how many were cached (see prompt-cache.ts). */
  cachedTokens: (inputTokens: number) => number
}

/** Decides the answer to `request`. */
export function planAnswer(request: ResponsesRequest, options: AnswerOptions): Answer {
  const hex = randomUUID().replaceAll('-', '')
  const chunks = Math.max(1, Math.floor(options.chunks))
  const reasoning =
    request.reasoning !== null && request.reasoning.effort !== 'none'
      ? planReasoning(request, hex)
      : null
  const output = planOutput(request, hex, chunks)
  const inputTokens = Math.max(1, tokens(request.promptChars))
  const reasoningTokens = reasoning ? tokens(reasoning.summary.length) : 0
  const outputTokens =
    tokens(output.kind === 'message' ? output.text.length : output.arguments.length) +
    reasoningTokens
  return {
    responseId: `resp_${hex}`,
    createdAt: Math.floor(options.nowMs / 1000),
    model: request.model,
    store: request.store === true,
    reasoningParams: request.reasoning ?? { effort: null, summary: null },
    reasoning,
    output,
    usage: {
      inputTokens,
      cachedTokens: Math.min(inputTokens, options.cachedTokens(inputTokens)),
      outputTokens,
      reasoningTokens,
      totalTokens: inputTokens + outputTokens,
    },
  }
}

/** The text answer to `userText` for `chunks` deltas; exported so tests state the rule once. */
export function echoText(userText: string, chunks: number): string {
  const text = `Echo: ${userText}`
  const length = codePointLength(text)
  return length >= chunks ? text : text + '.'.repeat(chunks - length)
}

/**
 * Cuts `text` into `parts` nearly equal non-empty pieces (fewer when it is shorter), never inside a surrogate
 * pair.
 */
export function splitText(text: string, parts: number): string[] {
  // Most text has no astral characters: slice UTF-16 directly instead of materialising code points.
  const units = /[\uD800-\uDFFF]/.test(text) ? Array.from(text) : null
  const length = units ? units.length : text.length
  const count = Math.max(1, Math.min(parts, length))
  const base = Math.floor(length / count)
  const extra = length % count
  const pieces: string[] = []
  let start = 0
  for (let i = 0; i < count; i += 1) {
    const end = start + base + (i < extra ? 1 : 0)
    pieces.push(units ? units.slice(start, end).join('') : text.slice(start, end))
    start = end
  }
  return pieces
}

function planReasoning(request: ResponsesRequest, hex: string): AnswerReasoning {
  const summary = `**Reading the request**\n\nThe user wrote ${codePointLength(request.userText)} characters; I will echo them back.`
  return {
    id: `rs_${hex}`,
    summary,
    summaryChunks: splitText(summary, 2),
    encryptedContent: request.include.includes('reasoning.encrypted_content')
      ? `gAAAAB${Buffer.from(summary).toString('base64')}`
      : null,
  }
}

function planOutput(request: ResponsesRequest, hex: string, chunks: number): AnswerOutput {
  const call = request.endsWithToolOutput ? null : requestedCall(request)
  if (call) {
    return {
      kind: 'function_call',
      id: `fc_${hex}`,
      callId: `call_${hex.slice(0, 24)}`,
      name: call.name,
      arguments: call.arguments,
      chunks: splitText(call.arguments, chunks),
    }
  }
  const text = echoText(request.userText, chunks)
  return { kind: 'message', id: `msg_${hex}`, text, chunks: splitText(text, chunks) }
}

/** The first offered function tool the user text asks for with `call <name>`, and its arguments. */
function requestedCall(request: ResponsesRequest): { name: string; arguments: string } | null {
  const text = request.userText
  for (const name of request.functionTools) {
    const phrase = `call ${name}`
    let at = text.indexOf(phrase)
    while (at >= 0) {
      const after = text.charAt(at + phrase.length)
      const before = at === 0 ? ' ' : text.charAt(at - 1)
      if (!/[\w-]/.test(after) && !/[\w-]/.test(before)) {
        return { name, arguments: argumentsAfter(text.slice(at + phrase.length)) }
      }
      at = text.indexOf(phrase, at + 1)
    }
  }
  return null
}

function argumentsAfter(rest: string): string {
  const candidate = rest.trim()
  if (!candidate.startsWith('{')) return '{}'
  try {
    const parsed: unknown = JSON.parse(candidate)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return candidate
  } catch {
    // Not JSON: the call gets no arguments.
  }
  return '{}'
}

function tokens(chars: number): number {
  return Math.ceil(chars / 4)
}

function codePointLength(text: string): number {
  return /[\uD800-\uDFFF]/.test(text) ? Array.from(text).length : text.length
}
