/**
 * The hardened local Responses proxy: `startProxy`, its gates and its error answers. Re-exports only.
 */
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_MAX_CONNECTIONS,
  startProxy,
  type RunningProxy,
  type StartProxyOptions,
} from './start-proxy.js'
export {
  contentTypeGate,
  hostGate,
  listenerHosts,
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
  overloaded,
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
export { removeServerInfo, writeServerInfo, type ServerInfo } from './server-info.js'
export { createExchangeDumper, DUMP_BODY_LIMIT, type ExchangeDumper } from './exchange-dump.js'
