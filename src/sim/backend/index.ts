/**
 * The simulator's ChatGPT backend and OpenAI API routes (PROTOCOL.md §7–8). Re-exports only.
 */
export { backendRoutes } from './routes.js'
export { MODELS_BY_PLAN, ALL_MODEL_SLUGS, planAllowsModel, type SimModel } from './models.js'
export { echoText } from './answer.js'
