/**
 * The options of `createCodexHandler`, checked once at creation (DESIGN.md: configuration is parsed at the edge)
 * into the typed settings the routes use: a cookie secret of at least 32 bytes, exact origins (canonicalised,
 * never patterns), positive limits, an upstream with its clients built, and the runner of `POST /run/stream`
 * (the direct upstream request, or a `CodexCliRunner` built over the handler's own store, issuer and backend). A
 * bad option throws `ERR_INVALID_CONFIG` naming the option and what to do; nothing starts half-configured.
 */
import {
  BrokerError,
  type Clock,
  createLogger,
  type Logger,
  Secret,
  systemClock,
} from '../lib/index.js'
import {
  CODEX_CLIENT_ID,
  DEFAULT_ISSUER,
  DEFAULT_ORIGINATOR,
  type IssuerConfig,
} from '../oauth/index.js'
import { CodexCliRunner, type CodexCliRunnerOptions, type Runner } from '../runners/index.js'
import { type CredentialStore, MemoryCredentialStore } from '../store/index.js'
import { TokenManager } from '../tokens/index.js'
import {
  type ClientIdentity,
  CodexBackend,
  DEFAULT_API_URL,
  DEFAULT_BACKEND_URL,
  OpenAIApi,
} from '../upstream/index.js'
import { MemorySessionStore } from './memory-session-store.js'
import { canonicalOrigin } from './request-origin.js'
import { apiKeyRunUpstream, chatgptRunUpstream, type RunUpstream } from './run-upstream.js'
import { SessionCookieSigner } from './session-cookie.js'
import type { SessionStore } from './session-store.js'
import {
  DEFAULT_RATE_LIMITS,
  type LimitedRoute,
  type RouteRateLimits,
  WebRateLimits,
} from './web-rate-limits.js'

/** Where runs go: each user's own ChatGPT sign-in, or the app's API key. */
export type WebUpstreamOptions =
  | {
      readonly kind: 'chatgpt'
      /** Default `https://auth.openai.com`. */
      readonly issuer?: string
      /** Default the Codex CLI's public client. */
      readonly clientId?: string
      /** Default `https://chatgpt.com/backend-api`. */
      readonly backendBase?: string
      /** The `originator` and version sent to the backend. */
      readonly identity?: ClientIdentity
      /** The fetch for the issuer (tests inject one). */
      readonly fetch?: typeof fetch
    }
  | {
      readonly kind: 'apiKey'
      readonly apiKey: Secret | string
      /** Default `https://api.openai.com/v1`. */
      readonly apiBase?: string
    }

/**
 * The settings of the `codex-cli` runner the handler builds (the rest comes from the handler: its credential
 * store, issuer, backend, clock and logger; the time limit is `maxRunMs`). `searchPath` is the child's `PATH`,
 * also searched for `codex`: the handler never reads the environment, so pass the `PATH` your program read if you want it.
 */
export type WebCodexCliRunnerOptions = Pick<
  CodexCliRunnerOptions,
  | 'binary'
  | 'searchPath'
  | 'packageFrom'
  | 'sandbox'
  | 'lang'
  | 'maxStdoutBytes'
  | 'maxStderrBytes'
  | 'tempDir'
  | 'lockTimeoutMs'
>

/** Options of `createCodexHandler`. */
export interface CodexHandlerOptions {
  /** Signs the session cookie: at least 32 bytes (e.g. `openssl rand -base64 48`). */
  readonly cookieSecret: Secret | string
  /** Where the routes are mounted, e.g. `/api/codex` (default: at the root). */
  readonly basePath?: string
  /**
   * The exact origins the app is served from, e.g. `['https://app.example.com']`. Without them only loopback
   * hosts are served (a DNS-rebound name is refused).
   */
  readonly publicOrigins?: readonly string[]
  /** Other origins allowed to call the API with credentials (CORS, exact match). Default none. */
  readonly allowedOrigins?: readonly string[]
  /** Believe `X-Forwarded-Proto`/`X-Forwarded-Host` (only behind your own reverse proxy). Default false. */
  readonly trustProxy?: boolean
  /**
   * Development only: a cookie without `Secure` and without the `__Host-` prefix, for plain-http localhost. A
   * warning is logged when it is on.
   */
  readonly insecureLocalhostCookie?: boolean
  /** Sessions (default in memory; `RedisSessionStore` for several instances). */
  readonly sessionStore?: SessionStore
  /** Each signed-in session's tokens (default in memory; `RedisCredentialStore` for several instances). */
  readonly credentialStore?: CredentialStore
  /** Per-route limits; each part falls back to {@link DEFAULT_RATE_LIMITS}. */
  readonly rateLimits?: Partial<Record<LimitedRoute, Partial<RouteRateLimits>>>
  /** Shared rate-limit counters for several instances: a connected node-redis client (default: in memory). */
  readonly rateLimitRedis?: { readonly client: unknown; readonly keyPrefix?: string }
  /** Where runs go (default: each user's ChatGPT sign-in against the real services). */
  readonly upstream?: WebUpstreamOptions
  /**
   * Who answers `POST /run/stream` (default `'direct'`: one Responses request per run). `'codex-cli'` runs each
   * signed-in session's account through a full Codex CLI agent turn (docs/runners.md; ChatGPT upstream only, no
   * working directory from the browser); a `Runner` is used as given (ChatGPT upstream only).
   */
  readonly runner?: 'direct' | 'codex-cli' | Runner
  /** With `runner: 'codex-cli'`: where the `codex` binary is and how runs are limited. */
  readonly codexCliRunner?: WebCodexCliRunnerOptions
  /** The models a browser may ask for; the first is the default (default `gpt-5.4`, `gpt-5.4-mini`). */
  readonly models?: readonly string[]
  /** The instructions sent with every run. */
  readonly instructions?: string
  /** The largest prompt, in UTF-8 bytes (default 32 KiB). */
  readonly maxPromptBytes?: number
  /** A session unused this long ends (default 30 minutes). */
  readonly idleTimeoutMs?: number
  /** A session ends this long after it began, used or not (default 12 hours). */
  readonly absoluteTimeoutMs?: number
  /** The longest run; its slot frees itself after this (default 10 minutes). */
  readonly maxRunMs?: number
  /** The `Clear-Site-Data` value sent on logout (default `"cache"`; add `"cookies"`, `"storage"` to taste). */
  readonly clearSiteData?: string
  readonly clock?: Clock
  /** Where `web.*` events go (default nowhere); tokens and session ids are never logged. */
  readonly logger?: Logger
}

/** The checked settings. */
export interface HandlerSettings {
  readonly signer: SessionCookieSigner
  readonly basePath: string
  readonly publicOrigins: ReadonlySet<string> | null
  readonly allowedOrigins: ReadonlySet<string>
  readonly trustProxy: boolean
  readonly insecureLocalhostCookie: boolean
  readonly sessions: SessionStore
  readonly credentials: CredentialStore
  readonly tokens: TokenManager | null
  readonly issuer: IssuerConfig | null
  readonly runUpstream: RunUpstream
  /** The runner of `POST /run/stream`; null for the direct path through `runUpstream`. */
  readonly runner: Runner | null
  readonly rateLimits: WebRateLimits
  readonly models: readonly string[]
  readonly instructions: string
  readonly maxPromptBytes: number
  readonly maxBodyBytes: number
  readonly idleTimeoutMs: number
  readonly absoluteTimeoutMs: number
  readonly maxRunMs: number
  readonly clearSiteData: string
  readonly clock: Clock
  readonly logger: Logger
  /** Closes the upstream clients this handler made. */
  readonly close: () => Promise<void>
}

const DEFAULT_MODELS = ['gpt-5.4', 'gpt-5.4-mini']
const DEFAULT_INSTRUCTIONS = 'You are a helpful assistant. Answer concisely.'
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

function invalid(option: string, problem: string, hint?: string): BrokerError {
  return new BrokerError(
    'ERR_INVALID_CONFIG',
    `createCodexHandler: ${option} ${problem}`,
    hint === undefined ? {} : { hint },
  )
}

function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw invalid(option, 'must be a positive number.')
  return value
}

function origins(option: string, values: readonly string[] | undefined): Set<string> {
  const set = new Set<string>()
  for (const value of values ?? []) {
    const origin = canonicalOrigin(value)
    if (origin === null || origin !== value.replace(/\/$/, '')) {
      throw invalid(
        option,
        `has ${JSON.stringify(value)}, which is not an exact origin.`,
        'Give scheme://host[:port] without a path, e.g. https://app.example.com.',
      )
    }
    set.add(origin)
  }
  return set
}

function basePathOf(value: string | undefined): string {
  if (value === undefined || value === '' || value === '/') return ''
  if (!/^(?:\/[A-Za-z0-9._~-]+)+$/.test(value) || /\/\.\.?(?:\/|$)/.test(value)) {
    throw invalid('basePath', 'must look like /api/codex (no trailing slash, no dot segments).')
  }
  return value
}

function limitsOf(options: CodexHandlerOptions): Record<LimitedRoute, RouteRateLimits> {
  const pick = (route: LimitedRoute): RouteRateLimits => {
    const given = options.rateLimits?.[route] ?? {}
    const merged = { ...DEFAULT_RATE_LIMITS[route], ...given }
    for (const [part, limit] of Object.entries(merged)) {
      positive(`rateLimits.${route}.${part}.points`, limit.points, 1)
      positive(`rateLimits.${route}.${part}.durationSeconds`, limit.durationSeconds, 1)
    }
    return merged
  }
  return { loginStart: pick('loginStart'), run: pick('run') }
}

function isRunner(value: unknown): value is Runner {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { run?: unknown }).run === 'function'
  )
}

/** The runner of the options, built over the handler's own services; null for the direct path. */
function runnerOf(
  options: CodexHandlerOptions,
  chatgpt: { readonly issuer: IssuerConfig; readonly backendBase: string } | null,
  shared: {
    readonly store: CredentialStore
    readonly clock: Clock
    readonly logger: Logger
    readonly maxRunMs: number
  },
): Runner | null {
  const runner = options.runner ?? 'direct'
  if (options.codexCliRunner !== undefined && runner !== 'codex-cli') {
    throw invalid('codexCliRunner', "is set, but runner is not 'codex-cli'.")
  }
  if (runner === 'direct') return null
  if (runner !== 'codex-cli' && !isRunner(runner)) {
    throw invalid('runner', "must be 'direct', 'codex-cli' or a Runner.")
  }
  if (chatgpt === null) {
    throw invalid(
      'runner',
      `${runner === 'codex-cli' ? "'codex-cli'" : 'a Runner'} needs the ChatGPT upstream: a runner runs a session's own signed-in account, and with upstream.kind 'apiKey' sessions have none.`,
      "Use runner: 'direct' (the default) with an API key, or upstream.kind 'chatgpt'.",
    )
  }
  if (runner !== 'codex-cli') return runner
  return new CodexCliRunner({
    ...options.codexCliRunner,
    store: shared.store,
    issuer: chatgpt.issuer,
    backendBase: chatgpt.backendBase,
    clock: shared.clock,
    logger: shared.logger,
    timeoutMs: Math.ceil(shared.maxRunMs),
  })
}

/**
 * Checks the options and builds what the routes need.
 * @throws {BrokerError} `ERR_INVALID_CONFIG` naming the bad option.
 * @example
 * const settings = resolveHandlerOptions({ cookieSecret })
 */
export function resolveHandlerOptions(options: CodexHandlerOptions): HandlerSettings {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createLogger({ level: 'silent' })
  const signer = new SessionCookieSigner(Secret.from(options.cookieSecret))
  const models = options.models ?? DEFAULT_MODELS
  if (models.length === 0 || !models.every((model) => MODEL_NAME.test(model))) {
    throw invalid('models', 'must list at least one model name such as gpt-5.4.')
  }
  const publicOrigins =
    options.publicOrigins === undefined ? null : origins('publicOrigins', options.publicOrigins)
  const credentials = options.credentialStore ?? new MemoryCredentialStore()
  const upstream = options.upstream ?? { kind: 'chatgpt' }
  const maxPromptBytes = positive('maxPromptBytes', options.maxPromptBytes, 32 * 1024)
  const maxRunMs = positive('maxRunMs', options.maxRunMs, 10 * 60_000)
  const issuer: IssuerConfig | null =
    upstream.kind === 'chatgpt'
      ? {
          issuer: upstream.issuer ?? DEFAULT_ISSUER,
          clientId: upstream.clientId ?? CODEX_CLIENT_ID,
          ...(upstream.fetch === undefined ? {} : { fetch: upstream.fetch }),
        }
      : null
  const backendBase =
    (upstream.kind === 'chatgpt' ? upstream.backendBase : undefined) ?? DEFAULT_BACKEND_URL
  // Checked before any client is made, so a refused runner leaves nothing open.
  const runner = runnerOf(options, issuer === null ? null : { issuer, backendBase }, {
    store: credentials,
    clock,
    logger,
    maxRunMs,
  })
  let tokens: TokenManager | null = null
  let runUpstream: RunUpstream
  let close: () => Promise<void>
  if (upstream.kind === 'chatgpt' && issuer !== null) {
    tokens = new TokenManager({ store: credentials, issuer, clock, logger })
    const backend = new CodexBackend({
      backendBase,
      identity: upstream.identity ?? { originator: DEFAULT_ORIGINATOR, version: '0.0.0' },
    })
    runUpstream = chatgptRunUpstream(tokens, backend)
    close = () => backend.close()
  } else if (upstream.kind === 'apiKey') {
    const apiKey = Secret.from(upstream.apiKey)
    if (apiKey.reveal().trim() === '') throw invalid('upstream.apiKey', 'is empty.')
    const api = new OpenAIApi({ apiBase: upstream.apiBase ?? DEFAULT_API_URL })
    runUpstream = apiKeyRunUpstream(api, apiKey)
    close = () => api.close()
  } else {
    throw invalid('upstream.kind', "must be 'chatgpt' or 'apiKey'.")
  }
  return {
    signer,
    basePath: basePathOf(options.basePath),
    publicOrigins,
    allowedOrigins: origins('allowedOrigins', options.allowedOrigins),
    trustProxy: options.trustProxy ?? false,
    insecureLocalhostCookie: options.insecureLocalhostCookie ?? false,
    sessions: options.sessionStore ?? new MemorySessionStore({ clock }),
    credentials,
    tokens,
    issuer,
    runUpstream,
    runner,
    rateLimits: new WebRateLimits({
      limits: limitsOf(options),
      ...(options.rateLimitRedis === undefined
        ? {}
        : {
            redisClient: options.rateLimitRedis.client,
            ...(options.rateLimitRedis.keyPrefix === undefined
              ? {}
              : { keyPrefix: options.rateLimitRedis.keyPrefix }),
          }),
    }),
    models,
    instructions: options.instructions ?? DEFAULT_INSTRUCTIONS,
    maxPromptBytes,
    // JSON may spell each byte of the prompt as a six-byte \u escape.
    maxBodyBytes: maxPromptBytes * 6 + 1024,
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 30 * 60_000),
    absoluteTimeoutMs: positive('absoluteTimeoutMs', options.absoluteTimeoutMs, 12 * 3_600_000),
    maxRunMs,
    clearSiteData: options.clearSiteData ?? '"cache"',
    clock,
    logger,
    close,
  }
}
