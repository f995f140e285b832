/**
 * `GET /v1/models`: the OpenAI API's model list in API-key mode, `{"object":"list","data":[{id, object:"model",
 * created, owned_by}]}` — every model the simulator's API accepts, so a client that lists then picks one never
 * gets `model_not_found`. Authenticated with the API key like `/v1/responses`.
 */
import { sendJson, type SimRequestContext, type SimRoute } from '../http.js'
import { authenticateApiKey } from './api-key-auth.js'
import { applyJsonFault } from './json-answer.js'
import { ALL_MODEL_SLUGS } from './models.js'

/** A fixed creation time: the listing is deterministic. */
const CREATED = 1_767_225_600

/** The API models route. */
export function apiModelsRoute(): SimRoute {
  return { method: 'GET', path: '/v1/models', handle: handleApiModels }
}

async function handleApiModels(ctx: SimRequestContext): Promise<void> {
  authenticateApiKey(ctx)
  if (!(await applyJsonFault(ctx))) return
  const data = [...ALL_MODEL_SLUGS].map((id) => ({
    id,
    object: 'model',
    created: CREATED,
    owned_by: 'openai',
  }))
  sendJson(ctx.res, 200, { object: 'list', data })
}
