/**
 * The broker's logger: pino writing JSON lines, with redaction at the logging boundary in three
 * layers (SECURITY.md §1.6, CN-03). (1) A `hooks.logMethod` pass redacts the message template and
 * every interpolation argument (strings through `redactText`, objects through `redactValue`), and
 * supplies the message pino would otherwise copy raw from a logged `Error`. (2) `formatters.log`
 * and `formatters.bindings` replace the merging object and child bindings with `redactValue`
 * copies, so secret-named keys lose their values, `Secret`s print `[REDACTED]`, errors keep only
 * the `serializeError` allowlist and token-shaped strings are scrubbed. (3) pino's own `redact`
 * paths for the usual secret keys, as a last net. Logs go to stderr by default, so stdout stays
 * free for machine-readable command output.
 */
import pino from 'pino'
import type { Revealable } from './safe-equal.js'
import { type RedactTextOptions, REDACTED, redactText } from './redact-text.js'
import { redactValue } from './redact-value.js'
import { isErrorLike, serializeError } from './serialize-error.js'

/** The logger type returned by {@link createLogger}. */
export type Logger = pino.Logger

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level (default `info`). */
  readonly level?: pino.LevelWithSilent
  /** Where JSON lines go (default: stderr, synchronous). */
  readonly destination?: pino.DestinationStream | NodeJS.WritableStream
  /** A `name` field on every line. */
  readonly name?: string
  /**
   * Exact secret values to scrub from every string (read at each call: a `Set` that grows later
   * keeps working).
   */
  readonly knownSecrets?: Iterable<string | Revealable>
}

const PATH_KEYS = [
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'authToken',
  'auth_token',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'codeVerifier',
  'code_verifier',
  'refresh',
] as const

const HEADER_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-proxy-token',
  'proxy-authorization',
] as const

function accessor(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`
}

/**
 * The pino `redact` paths: common secret keys at the top level and one level down, and secret
 * headers under `headers` at the top level and one level down (`req.headers.authorization`).
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...PATH_KEYS.flatMap((key) => [key, `*.${key}`]),
  ...HEADER_KEYS.flatMap((key) => [`headers${accessor(key)}`, `*.headers${accessor(key)}`]),
]

function redactArgument(value: unknown, options: RedactTextOptions): unknown {
  if (typeof value === 'string') return redactText(value, options)
  if (isErrorLike(value)) {
    const serialized = serializeError(value, options)
    return `${serialized.name}: ${serialized.message}`
  }
  if (typeof value === 'object' && value !== null) return redactValue(value, options)
  return value
}

function implicitMessage(merging: object, options: RedactTextOptions): string | undefined {
  if (isErrorLike(merging)) return redactText(merging.message, options)
  const err: unknown = Reflect.get(merging, 'err')
  if (Reflect.get(merging, 'msg') === undefined && isErrorLike(err)) {
    return redactText(err.message, options)
  }
  return undefined
}

/**
 * Redacts the arguments of one pino log call (exported for tests and custom hooks).
 *
 * @example
 * redactLogArguments(['token %s', 'sk-…'], {}) // ['token %s', '[REDACTED]']
 */
export function redactLogArguments(
  args: readonly unknown[],
  options: RedactTextOptions,
): unknown[] {
  const [first, ...rest] = args
  if (typeof first === 'object' && first !== null) {
    if (rest.length === 0) {
      const message = implicitMessage(first, options)
      return message === undefined ? [first] : [first, message]
    }
    return [first, ...rest.map((value) => redactArgument(value, options))]
  }
  return args.map((value) => redactArgument(value, options))
}

function defaultDestination(): pino.DestinationStream {
  return pino.destination({ dest: 2, sync: true })
}

/**
 * Creates a redacting pino logger (see the module comment for the layers).
 *
 * @example
 * const logger = createLogger({ level: 'debug', name: 'proxy' })
 * logger.info({ account: id, headers }, 'forwarding request') // authorization → [REDACTED]
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const textOptions: RedactTextOptions = { knownSecrets: options.knownSecrets }
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    serializers: {
      err: (value: unknown) =>
        isErrorLike(value) ? serializeError(value, textOptions) : redactValue(value, textOptions),
    },
    formatters: {
      log: (object) => redactValue(object, textOptions) as Record<string, unknown>,
      bindings: (bindings) => redactValue(bindings, textOptions) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const redacted = redactLogArguments(args, textOptions) as Parameters<pino.LogFn>
        method.apply(this, redacted)
      },
    },
    ...(options.name === undefined ? {} : { name: options.name }),
  }
  const destination = options.destination ?? defaultDestination()
  return pino(pinoOptions, destination)
}
