/**
 * Rate limits of the two costly routes, `POST /login/start` (each call makes the issuer mint a device code) and
 * `POST /run/stream` (each call spends the user's quota), keyed per session plus one global cap (SECURITY.md
 * C4.13: on loopback every client is 127.0.0.1, so a per-IP limiter would be a global off switch). The session's
 * limit is consumed first and a refused call does not touch the global budget, so one noisy session cannot use
 * up everybody's. Counters live in memory or, for several instances, in Redis (rate-limiter-flexible).
 */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible'

/** At most `points` calls per `durationSeconds`. */
export interface RateLimit {
  readonly points: number
  readonly durationSeconds: number
}

/** The two limits of one route. */
export interface RouteRateLimits {
  readonly perSession: RateLimit
  readonly global: RateLimit
}

/** The limited routes. */
export type LimitedRoute = 'loginStart' | 'run'

/** Defaults: 5 sign-in starts per session and 100 overall per minute; 30 runs per session and 600 overall. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<LimitedRoute, RouteRateLimits>> = {
  loginStart: {
    perSession: { points: 5, durationSeconds: 60 },
    global: { points: 100, durationSeconds: 60 },
  },
  run: {
    perSession: { points: 30, durationSeconds: 60 },
    global: { points: 600, durationSeconds: 60 },
  },
}

/** Options of {@link WebRateLimits}. */
export interface WebRateLimitsOptions {
  readonly limits: Readonly<Record<LimitedRoute, RouteRateLimits>>
  /** A connected node-redis client to share counters between instances; memory when absent. */
  readonly redisClient?: unknown
  /** Prefix of the Redis keys (default `codex-broker:web:rl`). */
  readonly keyPrefix?: string
}

interface RoutePair {
  readonly perSession: RateLimiterAbstract
  readonly global: RateLimiterAbstract
}

const GLOBAL_KEY = 'all'

/**
 * The limiters.
 * @example
 * const refusal = await limits.consume('run', sessionKey)
 * if (refusal !== null) return tooManyRequests(refusal.retryAfterSeconds)
 */
export class WebRateLimits {
  readonly #routes: Record<LimitedRoute, RoutePair>

  constructor(options: WebRateLimitsOptions) {
    const prefix = options.keyPrefix ?? 'codex-broker:web:rl'
    const make = (name: string, limit: RateLimit): RateLimiterAbstract => {
      const common = {
        points: limit.points,
        duration: limit.durationSeconds,
        keyPrefix: `${prefix}:${name}`,
      }
      return options.redisClient === undefined
        ? new RateLimiterMemory(common)
        : new RateLimiterRedis({
            ...common,
            storeClient: options.redisClient,
            useRedisPackage: true,
          })
    }
    const pair = (route: LimitedRoute): RoutePair => ({
      perSession: make(`${route}:session`, options.limits[route].perSession),
      global: make(`${route}:global`, options.limits[route].global),
    })
    this.#routes = { loginStart: pair('loginStart'), run: pair('run') }
  }

  /** Takes one call from the session's and the global budget; null when allowed, else when to retry. */
  async consume(
    route: LimitedRoute,
    sessionKey: string,
  ): Promise<{ readonly retryAfterSeconds: number } | null> {
    const { perSession, global } = this.#routes[route]
    try {
      await perSession.consume(sessionKey)
      await global.consume(GLOBAL_KEY)
      return null
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        return { retryAfterSeconds: Math.max(1, Math.ceil(error.msBeforeNext / 1000)) }
      }
      throw error
    }
  }
}
