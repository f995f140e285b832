/**
 * Wire helpers for the backend and API conformance tests: a Codex request body as the CLI shapes it, calls to
 * the Codex and API routes, the expected event order of PROTOCOL.md §7, and a controllable clock.
 */
import type { Simulator } from '../../src/sim/index.js'
import { postJson } from '../support/sim.js'
import { codexHeaders, type SignedInAccount } from '../support/sim-tokens.js'

/** A Codex CLI-shaped request body saying `text`; `overrides` replace or add fields. */
export function codexBody(
  text: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    model: 'gpt-5.4',
    instructions: 'You are a coding agent.',
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text }] }],
    tools: [],
    tool_choice: 'auto',
    parallel_tool_calls: false,
    stream: true,
    store: false,
    include: [],
    ...overrides,
  }
}

/** POSTs to `/backend-api/codex/responses` as `account`. */
export function postCodex(
  sim: Simulator,
  account: SignedInAccount,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postJson(`${sim.backendBase}/codex/responses`, body, codexHeaders(account, headers))
}

/** POSTs to `/v1/responses` with an API key. */
export function postApi(sim: Simulator, apiKey: string, body: unknown): Promise<Response> {
  return postJson(`${sim.apiBase}/responses`, body, { authorization: `Bearer ${apiKey}` })
}

/** GETs a backend path as `account`. */
export function getBackend(
  sim: Simulator,
  account: SignedInAccount,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${sim.backendBase}${path}`, {
    headers: {
      authorization: `Bearer ${account.accessToken}`,
      'chatgpt-account-id': account.accountId,
      ...headers,
    },
    redirect: 'manual',
  })
}

/** The event types of a plain text answer with `chunks` deltas, in PROTOCOL.md §7 order. */
export function textEventOrder(chunks: number): string[] {
  return [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    ...Array.from({ length: chunks }, () => 'response.output_text.delta'),
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2026-03-01T12:00:00Z')): {
  now: () => number
  advance: (ms: number) => void
} {
  let current = start
  return {
    now: () => current,
    advance: (ms) => {
      current += ms
    },
  }
}

/** The names of the rate-limit headers every Codex answer carries. */
export const RATE_LIMIT_HEADERS = [
  'x-codex-primary-used-percent',
  'x-codex-primary-window-minutes',
  'x-codex-primary-reset-at',
  'x-codex-secondary-used-percent',
  'x-codex-secondary-window-minutes',
  'x-codex-secondary-reset-at',
  'x-codex-credits-has-credits',
  'x-codex-credits-unlimited',
  'x-codex-credits-balance',
] as const

/** Reads the rate-limit headers into numbers and booleans, failing on a missing or malformed one. */
export function readRateLimitHeaders(response: Response): {
  primaryUsedPercent: number
  primaryWindowMinutes: number
  primaryResetAt: number
  secondaryUsedPercent: number
  secondaryWindowMinutes: number
  secondaryResetAt: number
  hasCredits: boolean
  unlimited: boolean
  balance: number
} {
  const text = (name: (typeof RATE_LIMIT_HEADERS)[number]): string => {
    const value = response.headers.get(name)
    if (value === null) throw new Error(`missing header ${name}`)
    return value
  }
  const number = (name: (typeof RATE_LIMIT_HEADERS)[number]): number => {
    const value = Number(text(name))
    if (!Number.isFinite(value)) throw new Error(`header ${name} is not a number: ${text(name)}`)
    return value
  }
  const bool = (name: (typeof RATE_LIMIT_HEADERS)[number]): boolean => {
    const value = text(name)
    if (value !== 'true' && value !== 'false') throw new Error(`header ${name} is not a boolean`)
    return value === 'true'
  }
  return {
    primaryUsedPercent: number('x-codex-primary-used-percent'),
    primaryWindowMinutes: number('x-codex-primary-window-minutes'),
    primaryResetAt: number('x-codex-primary-reset-at'),
    secondaryUsedPercent: number('x-codex-secondary-used-percent'),
    secondaryWindowMinutes: number('x-codex-secondary-window-minutes'),
    secondaryResetAt: number('x-codex-secondary-reset-at'),
    hasCredits: bool('x-codex-credits-has-credits'),
    unlimited: bool('x-codex-credits-unlimited'),
    balance: number('x-codex-credits-balance'),
  }
}
