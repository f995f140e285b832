/**
 * Clients of the upstream services: the ChatGPT Codex backend and the OpenAI API. Re-exports only.
 */
export { codexHeaders, userAgent, type ClientIdentity } from './codex-headers.js'
export { DEFAULT_API_URL, DEFAULT_BACKEND_URL } from './default-endpoints.js'
export {
  classifyUpstreamFailure,
  isCloudflareChallenge,
  upstreamError,
  UpstreamError,
  usageLimitInfo,
  type UpstreamErrorDetails,
  type UpstreamFailure,
  type UpstreamRecovery,
  type UsageLimitInfo,
} from './upstream-error.js'
export {
  fetchUsage,
  type FetchUsageOptions,
  type UsageSnapshot,
  type UsageWindow,
} from './wham-usage.js'
export { parseSse, SseParser, type SseMessage } from './sse-parser.js'
export {
  isTerminalEvent,
  parseResponseEvent,
  responseEvents,
  responseUsageSchema,
  TerminalTracker,
  type KnownResponseEvent,
  type KnownResponseEventType,
  type ResponseEvent,
  type TerminalResponseEvent,
  type UnknownResponseEvent,
} from './response-events.js'
export {
  isEmptyQuota,
  quotaFromHeaders,
  type HeaderSource,
  type QuotaCredits,
  type QuotaSnapshot,
  type QuotaWindow,
} from './quota-snapshot.js'
export {
  closeDispatcher,
  createUpstreamDispatcher,
  type UpstreamDispatcherOptions,
} from './dispatcher.js'
export type { UpstreamResponse } from './upstream-request.js'
export {
  CodexBackend,
  type CodexBackendOptions,
  type CodexCredentials,
  type CodexModel,
  type CodexResponse,
  type CodexResponseRequest,
  type ListModelsRequest,
} from './codex-backend.js'
export {
  OpenAIApi,
  type ApiModel,
  type OpenAIApiOptions,
  type OpenAIResponseRequest,
} from './openai-api.js'
