/**
 * The Chat Completions ⇄ Responses translation layer of the local proxy (issue #4): requests one way, responses
 * and streams the other. Pure functions and one stateful stream translator; no HTTP. Re-exports only.
 */
export {
  chatToResponsesRequest,
  type ChatCompletionRequest,
  type ChatToResponsesOptions,
  type ResponsesContentPart,
  type ResponsesFunctionTool,
  type ResponsesInputItem,
  type ResponsesRequest,
  type ResponsesTextFormat,
  type ResponsesToolChoice,
} from './request.js'
export { ChatStreamTranslator, type ChatStreamOptions, SSE_DONE, toSseLines } from './stream.js'
export { type ChatCompletionOptions, responsesToChatCompletion } from './response.js'
export { finishReasonOf, type ResponsesUsageLike, toChatUsage, upstreamFailure } from './usage.js'
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionDelta,
  ChatCompletionMessage,
  ChatFinishReason,
  ChatToolCall,
  ChatToolCallDelta,
  ChatUsage,
} from './types.js'
