/**
 * The shared primitives of codex-broker: secrets and constant-time comparison, redaction, the
 * error taxonomy, the clock, the redacting logger and safe secret-file I/O. Re-exports only.
 */
export { Secret } from './secret.js'
export { type Revealable, type SecretInput, safeEqual, sha256Hex } from './safe-equal.js'
export {
  MIN_KNOWN_SECRET_LENGTH,
  REDACTED,
  type RedactTextOptions,
  redactText,
} from './redact-text.js'
export { DEFAULT_REDACT_DEPTH, type RedactValueOptions, redactValue } from './redact-value.js'
export { isSecretKey, normalizeKeyName } from './secret-keys.js'
export { isErrorLike, type SerializedError, serializeError } from './serialize-error.js'
export {
  BROKER_ERROR_CODES,
  BrokerError,
  type BrokerErrorCode,
  type BrokerErrorOptions,
  GENERIC_INTERNAL_MESSAGE,
  httpStatusFor,
  isBrokerError,
  isBrokerErrorCode,
  type PublicError,
  toPublicError,
} from './errors.js'
export { abortReason, type Clock, ManualClock, systemClock } from './clock.js'
export {
  createLogger,
  LOG_REDACT_PATHS,
  type Logger,
  type LoggerOptions,
  redactLogArguments,
} from './logger.js'
export { errnoCode, hasErrnoCode } from './errno.js'
export { describeFileType, type FileTypeStat, formatMode } from './file-mode.js'
export { nodeFs, openFlag, type SafeFileHandle, type SafeFileStat, type SafeFs } from './fs-shim.js'
export { quoteForShell } from './shell-quote.js'
export {
  SECRET_FILE_MODE,
  STALE_TEMP_MS,
  TEMP_OPEN_FLAGS,
  tempNamePattern,
  writeSecretFile,
  type WriteSecretFileOptions,
} from './safe-write.js'
export {
  type EnsuredPrivateDir,
  ensurePrivateDir,
  type EnsurePrivateDirOptions,
  PRIVATE_DIR_MODE,
} from './safe-dir.js'
export {
  assertPrivateFile,
  readPrivateFileIfPresent,
  type AssertPrivateFileOptions,
  DEFAULT_SECRET_FILE_MAX_BYTES,
} from './safe-read.js'
export { untilAborted } from './abortable.js'
export { escapeHtml } from './escape-html.js'
