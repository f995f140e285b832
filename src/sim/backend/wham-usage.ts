/**
 * `GET /backend-api/wham/usage`: the account's plan, both rate-limit windows and credits (PROTOCOL.md §7),
 * read from the same snapshot that produces the `x-codex-*` headers, so the two never disagree.
 */
import { sendJson, type SimRequestContext, type SimRoute } from '../http.js'
import { authenticateChatGpt } from './chatgpt-auth.js'
import { applyJsonFault } from './json-answer.js'
import { rateLimitSnapshot, usageBody } from './rate-limits.js'

/** The usage route. */
export function whamUsageRoute(): SimRoute {
  return { method: 'GET', path: '/backend-api/wham/usage', handle: handleWhamUsage }
}

async function handleWhamUsage(ctx: SimRequestContext): Promise<void> {
  const account = authenticateChatGpt(ctx)
  if (!(await applyJsonFault(ctx))) return
  // Read after a `slow` fault's pause, so the figures are those of the moment of answering.
  sendJson(ctx.res, 200, usageBody(rateLimitSnapshot(ctx.state, account)))
}
