/**
 * `POST /backend-api/codex/responses`: the ChatGPT Codex backend's model endpoint (PROTOCOL.md §7). Checks, in
 * order: the bearer token and `chatgpt-account-id` (401/403, see chatgpt-auth.ts), the body (400
 * `{"detail": …}` like the real FastAPI backend: valid JSON object, `model` a string, `stream: true` and
 * `store: false` exactly — the backend streams only and stores nothing), the plan's model list (400 "The 'X' model
 * is not supported when using Codex with a ChatGPT account."), the quota (429 `usage_limit_reached` when a window
 * is at 100 %, with the reset of that window). Then it streams the answer. Every answer after a good token and
 * account header carries the `x-codex-*` rate-limit headers. Requests do not use up quota: usage moves only
 * through `control.setQuota`, so a long benchmark never drifts into 429s.
 */
import { readBody, SimHttpError, type SimRequestContext, type SimRoute } from '../http.js'
import { planAnswer } from './answer.js'
import { authenticateChatGpt } from './chatgpt-auth.js'
import { planAllowsModel } from './models.js'
import { cachedTokens } from './prompt-cache.js'
import { exhaustedWindow, rateLimitHeaders, rateLimitSnapshot } from './rate-limits.js'
import { renderStream } from './response-events.js'
import {
  parseResponsesRequest,
  ResponsesRequestError,
  type ResponsesRequest,
} from './responses-request.js'
import { writeSse } from './sse-writer.js'

/** The route path. */
export const CODEX_RESPONSES_PATH = '/backend-api/codex/responses'

/** The Codex responses route. */
export function codexResponsesRoute(): SimRoute {
  return { method: 'POST', path: CODEX_RESPONSES_PATH, handle: handleCodexResponses }
}

async function handleCodexResponses(ctx: SimRequestContext): Promise<void> {
  const { state } = ctx
  const account = authenticateChatGpt(ctx)
  const snapshot = rateLimitSnapshot(state, account)
  const headers = rateLimitHeaders(snapshot)
  const badRequest = (detail: string): SimHttpError => new SimHttpError(400, { detail }, headers)

  let request: ResponsesRequest
  try {
    request = parseResponsesRequest(await readBody(ctx))
  } catch (error) {
    if (error instanceof ResponsesRequestError) throw badRequest(error.message)
    throw error
  }
  if (request.stream !== true) throw badRequest('Stream must be set to true')
  if (request.store !== false) throw badRequest('Store must be set to false')
  if (!planAllowsModel(account.plan, request.model)) {
    throw badRequest(
      `The '${request.model}' model is not supported when using Codex with a ChatGPT account.`,
    )
  }
  const exhausted = exhaustedWindow(snapshot)
  if (exhausted) {
    throw new SimHttpError(
      429,
      {
        error: {
          type: 'usage_limit_reached',
          message: 'The usage limit has been reached',
          plan_type: account.plan,
          resets_at: exhausted.resetAt,
          resets_in_seconds: Math.max(0, exhausted.resetAt - snapshot.nowSeconds),
        },
      },
      headers,
    )
  }

  const counts = state.counters.responsesByAccount
  counts[account.accountId] = (counts[account.accountId] ?? 0) + 1
  const cacheKey = request.promptCacheKey ?? sessionId(ctx)
  const answer = planAnswer(request, {
    nowMs: state.now(),
    chunks: state.config.streamChunks,
    cachedTokens: (inputTokens) => cachedTokens(account, cacheKey, inputTokens),
  })
  const { frames, cutAfter } = renderStream(answer)
  await writeSse(ctx, frames, {
    headers,
    delayMs: ctx.fault === 'slow' ? state.config.slowStreamDelayMs : state.config.streamDelayMs,
    cutAfter: ctx.fault === 'cut' ? cutAfter : null,
  })
}

/** The conversation id the Codex CLI sends (`session-id`; older clients spell it `session_id`). */
function sessionId(ctx: SimRequestContext): string | null {
  const value = ctx.req.headers['session-id'] ?? ctx.req.headers.session_id
  return typeof value === 'string' && value !== '' ? value : null
}
