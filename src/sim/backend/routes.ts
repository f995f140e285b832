/**
 * The backend and API half of the simulator: the ChatGPT Codex backend (`/backend-api/codex/responses`,
 * `/backend-api/codex/models`, `/backend-api/wham/usage`) and the OpenAI API in key mode (`/v1/responses`, `/v1/models`).
 */
import type { SimRoute } from '../http.js'
import { apiModelsRoute } from './api-models.js'
import { apiResponsesRoute } from './api-responses.js'
import { codexModelsRoute } from './codex-models.js'
import { codexResponsesRoute } from './codex-responses.js'
import { whamUsageRoute } from './wham-usage.js'

/** Every backend and API route, for `startSimulator`'s dispatch table. */
export function backendRoutes(): SimRoute[] {
  return [
    codexResponsesRoute(),
    codexModelsRoute(),
    whamUsageRoute(),
    apiResponsesRoute(),
    apiModelsRoute(),
  ]
}
