/**
 * The hardened local Responses proxy: `startProxy`, its gates and its error answers. Re-exports only.
 */
export {
  DEFAULT_MAX_BODY_BYTES,
  startProxy,
  type RunningProxy,
  type StartProxyOptions,
} from './start-proxy.js'
export {
  contentTypeGate,
  hostGate,
  loopbackHosts,
  originGate,
  runGates,
  sizeGate,
  tokenGate,
  tooLarge,
  type GateConfig,
  type GateRequest,
  type GateResult,
} from './gates.js'
export { matchRoute, type ProxyRoute, type RouteMatch } from './routes.js'
export { createProxyToken, hasProxyToken, presentedToken } from './proxy-token.js'
export {
  refusal,
  refusalForError,
  sendRefusal,
  type ProxyErrorCode,
  type ProxyRefusal,
} from './proxy-error.js'
export {
  listModels,
  openResponse,
  withAccessToken,
  type ChatgptUpstream,
  type ListedModel,
  type OpenAIUpstream,
  type ProxyUpstream,
} from './proxy-upstream.js'
export { readBody, type BodyRead } from './read-body.js'
export { serveResponses, type ResponsesRouteContext } from './responses-route.js'
export { serveChatCompletions } from './chat-completions-route.js'
export {
  collectTerminal,
  exchangeUpstream,
  parseJsonObject,
  type UpstreamRouteContext,
} from './upstream-exchange.js'
