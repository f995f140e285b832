/**
 * `GET /backend-api/codex/models?client_version=<v>`: the models the signed-in account's plan may use
 * (PROTOCOL.md §7), as `{"models": [...]}` in the order of the real listing. Authenticated like every backend
 * route; `client_version` is required (400 `{"detail": …}` without it), as the real backend uses it to pick what
 * a client can run.
 */
import { sendJson, SimHttpError, type SimRequestContext, type SimRoute } from '../http.js'
import { authenticateChatGpt } from './chatgpt-auth.js'
import { applyJsonFault } from './json-answer.js'
import { MODELS_BY_PLAN } from './models.js'

/** The Codex models route. */
export function codexModelsRoute(): SimRoute {
  return { method: 'GET', path: '/backend-api/codex/models', handle: handleCodexModels }
}

async function handleCodexModels(ctx: SimRequestContext): Promise<void> {
  const account = authenticateChatGpt(ctx)
  const clientVersion = ctx.url.searchParams.get('client_version')
  if (clientVersion === null || clientVersion === '') {
    throw new SimHttpError(400, { detail: 'client_version is required' })
  }
  if (!(await applyJsonFault(ctx))) return
  sendJson(ctx.res, 200, { models: MODELS_BY_PLAN[account.plan] })
}
