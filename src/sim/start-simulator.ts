/**
 * `startSimulator(options)`: one loopback HTTP server standing in for auth.openai.com, the ChatGPT Codex backend
 * and the OpenAI API (PROTOCOL.md), plus the `/__sim` control API. Requests are dispatched by exact method and
 * path from a table; each is counted and recorded, and a queued fault for its route answers in its place.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { backendRoutes } from './backend/index.js'
import { SimControl } from './control.js'
import { controlRoutes } from './control-routes.js'
import { answerWithFault } from './fault-responses.js'
import {
  sendJson,
  SimHttpError,
  type SimRequestContext,
  type SimRoute,
  type SimStreamFault,
} from './http.js'
import { issuerRoutes } from './issuer/index.js'
import { createJwtSigner } from './jwt.js'
import { isLoopbackHost } from './loopback.js'
import { SimState } from './state.js'
import type { SimConfig, SimPlan } from './types.js'

/** The default behaviour: hour-long access tokens, 30-day refresh tokens, a short instant stream. */
export const DEFAULT_SIM_CONFIG: SimConfig = {
  accessTokenTtlSeconds: 3_600,
  refreshTokenTtlSeconds: 30 * 24 * 3_600,
  authCodeTtlSeconds: 600,
  autoApprove: null,
  streamChunks: 8,
  streamDelayMs: 0,
  slowStreamDelayMs: 1_000,
  deviceCodeTtlSeconds: 900,
  devicePollIntervalSeconds: 5,
  redirectFaultLocation: 'http://127.0.0.1:9/redirected',
}

/** The broker's loopback callback ports registered with the issuer (PROTOCOL.md §1). */
export const DEFAULT_CALLBACK_PORTS: readonly number[] = [1455, 1457]

/** Options of `startSimulator`. */
export interface SimulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  /** Loopback address to bind (default `127.0.0.1`); anything else is refused. */
  host?: string
  /** Accounts that exist from the start (and again after `reset`). */
  accounts?: readonly { email: string; plan?: SimPlan; deviceAuthEnabled?: boolean }[]
  /** Initial behaviour; unset fields take `DEFAULT_SIM_CONFIG`. */
  config?: Partial<SimConfig>
  /**
   * Loopback ports whose `http://127.0.0.1:<port>/auth/callback` is a registered redirect URI (default 1455 and
   * 1457), so parallel tests can each use their own callback port.
   */
  callbackPorts?: readonly number[]
  /** Exact registered redirect URIs; overrides `callbackPorts`. */
  redirectUris?: readonly string[]
  /** The clock, in unix milliseconds (tests freeze or advance it). */
  now?: () => number
}

/** A running simulator. */
export interface Simulator {
  /** Base URL of the issuer (stands in for `https://auth.openai.com`). */
  issuer: string
  /** Base URL of the backend (stands in for `https://chatgpt.com/backend-api`). */
  backendBase: string
  /** Base URL of the API (stands in for `https://api.openai.com/v1`). */
  apiBase: string
  /** Base URL of the control API. */
  controlBase: string
  port: number
  /** In-process control. */
  control: SimControl
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

/**
 * Starts a simulator on loopback.
 * @example
 * const sim = await startSimulator({ accounts: [{ email: 'dev@example.com' }] })
 * const { accountId } = sim.control.addAccount({ email: 'second@example.com', plan: 'pro' })
 * await sim.close()
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1'
  if (!isLoopbackHost(host)) {
    throw new Error(`The simulator binds loopback only; refusing to listen on ${host}.`)
  }
  const server = createServer({ keepAliveTimeout: 10_000 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const state = new SimState({
    issuer: origin,
    redirectUris:
      options.redirectUris ??
      (options.callbackPorts ?? DEFAULT_CALLBACK_PORTS).map(
        (callbackPort) => `http://127.0.0.1:${callbackPort}/auth/callback`,
      ),
    config: { ...DEFAULT_SIM_CONFIG, ...options.config },
    accounts: options.accounts ?? [],
    now: options.now ?? Date.now,
    signer: createJwtSigner(),
  })
  const control = new SimControl(state)
  const routes = indexRoutes([...issuerRoutes(), ...backendRoutes(), ...controlRoutes(control)])
  server.on('request', (req, res) => {
    dispatch(routes, state, req, res)
  })
  return {
    issuer: origin,
    backendBase: `${origin}/backend-api`,
    apiBase: `${origin}/v1`,
    controlBase: `${origin}/__sim`,
    port,
    control,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
        server.closeAllConnections()
      }),
  }
}

type RouteTable = Map<string, Map<string, SimRoute>>

function indexRoutes(routes: readonly SimRoute[]): RouteTable {
  const table: RouteTable = new Map()
  for (const route of routes) {
    let byMethod = table.get(route.path)
    if (!byMethod) {
      byMethod = new Map()
      table.set(route.path, byMethod)
    }
    if (byMethod.has(route.method)) throw new Error(`duplicate route ${route.method} ${route.path}`)
    byMethod.set(route.method, route)
  }
  return table
}

function dispatch(
  routes: RouteTable,
  state: SimState,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const url = new URL(req.url ?? '/', state.issuer)
  const byMethod = routes.get(url.pathname)
  if (!byMethod) {
    sendJson(res, 404, { error: { code: 'not_found', message: `No route ${url.pathname}` } })
    return
  }
  const route = byMethod.get(req.method ?? '')
  if (!route) {
    sendJson(
      res,
      405,
      { error: { code: 'method_not_allowed', message: 'Method not allowed' } },
      {
        allow: [...byMethod.keys()].join(', '),
      },
    )
    return
  }
  const recorded = state.record({
    method: route.method,
    route: route.path,
    url: req.url ?? '/',
    headers: { ...req.headers } as Record<string, string | string[]>,
  })
  const fault = route.path.startsWith('/__sim/') ? null : state.takeFault(route.path)
  if (fault && answerWithFault(res, fault, state.config.redirectFaultLocation)) return
  const abort = new AbortController()
  res.on('close', () => {
    if (!res.writableFinished) abort.abort()
  })
  const ctx: SimRequestContext = {
    req,
    res,
    url,
    state,
    fault: fault as SimStreamFault | null,
    recorded,
    signal: abort.signal,
  }
  Promise.resolve()
    .then(() => route.handle(ctx))
    .catch((error: unknown) => {
      answerError(res, error)
    })
}

function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (error instanceof SimHttpError) {
    sendJson(res, error.status, error.body, error.headers)
    return
  }
  sendJson(res, 500, { error: { code: 'server_error', message: 'The simulator failed' } })
}
