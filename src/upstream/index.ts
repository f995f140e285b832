/**
 * Clients of the upstream services: the ChatGPT Codex backend and the OpenAI API. Re-exports only.
 */
export { codexHeaders, userAgent, type ClientIdentity } from './codex-headers.js'
export {
  isCloudflareChallenge,
  upstreamError,
  usageLimitInfo,
  type UsageLimitInfo,
} from './upstream-error.js'
export {
  fetchUsage,
  type FetchUsageOptions,
  type UsageSnapshot,
  type UsageWindow,
} from './wham-usage.js'
