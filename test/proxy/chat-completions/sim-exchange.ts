/**
 * Test fixture: one Chat Completions request through the simulator — translated with `chatToResponsesRequest`,
 * POSTed to `codex/responses` as a signed-in account, and read back as typed events with `responseEvents()` —
 * so the stream and response tests translate real event sequences, not hand-written ones.
 */
import { chatToResponsesRequest } from '../../../src/proxy/chat-completions/index.js'
import type { Simulator } from '../../../src/sim/index.js'
import { responseEvents, type ResponseEvent } from '../../../src/upstream/index.js'
import { codexHeaders, signIn, type SignedInAccount } from '../../support/sim-tokens.js'
import { postJson, useSimulator } from '../../support/sim.js'

/** A simulator with one signed-in Plus account. */
export interface SimSession {
  sim: Simulator
  account: SignedInAccount
}

/** Starts a simulator (closed after the test) and signs an account in. */
export async function simSession(): Promise<SimSession> {
  const sim = await useSimulator()
  const account = await signIn(sim, { email: 'chat@example.com', plan: 'plus' })
  return { sim, account }
}

/** Sends a Chat Completions body through the translation and the simulator; answers every event. */
export async function exchange(
  session: SimSession,
  chatBody: unknown,
  headers: Record<string, string> = {},
): Promise<ResponseEvent[]> {
  const request = chatToResponsesRequest(chatBody, { forceStream: true, dropUnsupported: true })
  const response = await postJson(
    `${session.sim.backendBase}/codex/responses`,
    request,
    codexHeaders(session.account, headers),
  )
  if (response.status !== 200 || response.body === null) {
    throw new Error(`codex/responses answered ${String(response.status)}: ${await response.text()}`)
  }
  const events: ResponseEvent[] = []
  for await (const event of responseEvents(response.body)) events.push(event)
  return events
}

/** The `response` of the `response.completed` event. */
export function completedResponse(events: readonly ResponseEvent[]): unknown {
  const last = events.at(-1)
  if (last?.type !== 'response.completed') throw new Error('the stream did not complete')
  return last.response
}

/** The model every test asks for (in the Plus plan's list). */
export const MODEL = 'gpt-5.4'

/** A function tool the simulator can be told to call. */
export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
} as const
