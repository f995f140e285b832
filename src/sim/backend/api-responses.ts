/**
 * `POST /v1/responses`: the OpenAI API in API-key mode (PROTOCOL.md §8). Same request and the same SSE stream
 * as the Codex backend when `stream: true`; without it (false or absent) one JSON response object, the same one
 * the stream's `response.completed` carries. Errors are the API's `{"error": {message, type, param, code}}`
 * objects (400 for a malformed body, 400 `model_not_found` for a model the simulator does not know, 401 for a
 * missing or unknown key). No `x-codex-*` headers, no quota, any `store` value: this is the platform API, not
 * the ChatGPT backend. A `cut` fault drops a JSON answer before its first byte; `slow` delays it.
 */
import { readBody, SimHttpError, type SimRequestContext, type SimRoute } from '../http.js'
import { planAnswer } from './answer.js'
import { authenticateApiKey } from './api-key-auth.js'
import { applyJsonFault, sendJsonText } from './json-answer.js'
import { ALL_MODEL_SLUGS } from './models.js'
import { cachedTokens } from './prompt-cache.js'
import { renderCompletedResponse, renderStream } from './response-events.js'
import {
  parseResponsesRequest,
  ResponsesRequestError,
  type ResponsesRequest,
} from './responses-request.js'
import { writeSse } from './sse-writer.js'

/** The API responses route. */
export function apiResponsesRoute(): SimRoute {
  return { method: 'POST', path: '/v1/responses', handle: handleApiResponses }
}

async function handleApiResponses(ctx: SimRequestContext): Promise<void> {
  const { state } = ctx
  const key = authenticateApiKey(ctx)
  let request: ResponsesRequest
  try {
    request = parseResponsesRequest(await readBody(ctx))
  } catch (error) {
    if (error instanceof ResponsesRequestError) throw invalidRequest(error.message, error.param)
    throw error
  }
  if (
    request.stream !== undefined &&
    request.stream !== null &&
    typeof request.stream !== 'boolean'
  ) {
    throw invalidRequest("Invalid type for 'stream': expected a boolean.", 'stream')
  }
  if (!ALL_MODEL_SLUGS.has(request.model)) {
    throw invalidRequest(
      `The requested model '${request.model}' does not exist.`,
      'model',
      'model_not_found',
    )
  }
  const answer = planAnswer(request, {
    nowMs: state.now(),
    chunks: state.config.streamChunks,
    cachedTokens: (inputTokens) => cachedTokens(key, request.promptCacheKey, inputTokens),
  })
  if (request.stream === true) {
    const { frames, cutAfter } = renderStream(answer)
    await writeSse(ctx, frames, {
      headers: {},
      delayMs: ctx.fault === 'slow' ? state.config.slowStreamDelayMs : state.config.streamDelayMs,
      cutAfter: ctx.fault === 'cut' ? cutAfter : null,
    })
    return
  }
  if (!(await applyJsonFault(ctx))) return
  sendJsonText(ctx, 200, renderCompletedResponse(answer))
}

function invalidRequest(message: string, param: string | null, code: string | null = null) {
  return new SimHttpError(400, {
    error: { message, type: 'invalid_request_error', param, code },
  })
}
