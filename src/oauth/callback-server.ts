/**
 * The loopback callback server of the browser sign-in (PROTOCOL.md §2, SECURITY.md C1). It listens on
 * `127.0.0.1` only, on the first free port of the registered list (1455, then 1457): a busy port gets one
 * `GET /cancel` (which stops a stale Codex or codex-broker sign-in still holding it), ten more tries 200 ms
 * apart, then the next port; when none is free the sign-in fails with `ERR_PORT_IN_USE`.
 *
 * Routes, after a `Host` check that accepts exactly `127.0.0.1:<port>` and `localhost:<port>` (`localhost` in any
 * letter case, as hosts are case-insensitive; everything else, including `0.0.0.0`, other ports, trailing dots
 * and numeric aliases such as `127.1`, is a 403 — DNS rebinding defence):
 * - `GET /auth/callback`: the `state` must be present once and equal the expected one (constant-time compare);
 *   otherwise a 400 "State mismatch" page and the server keeps waiting, so a stray or hostile request cannot
 *   end the sign-in. A matching state is spent at once (single use). An `error=…` answer ends the sign-in with
 *   its meaning; a code is handed to `onCallback`, and the success page is sent only after it resolves (the
 *   browser sign-in exchanges the code and stores the credentials inside it).
 * - `GET /cancel`: refused (403) to browsers — any `Origin` header, or `Sec-Fetch-Site` other than `none` — so a
 *   web page cannot cancel a sign-in; otherwise it ends the sign-in with `ERR_LOGIN_CANCELLED`.
 * - everything else: 404.
 * Every answer carries the headers of callback-pages.ts and `Connection: close`; nothing ever redirects. After
 * the end (success, error, cancel, timeout after 10 minutes, abort) the listener and every connection are
 * closed before `done` settles.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-8.3
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7.1
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import {
  BrokerError,
  type Clock,
  errnoCode,
  isBrokerError,
  safeEqual,
  Secret,
  systemClock,
  toPublicError,
} from '../lib/index.js'
import { callbackError } from './callback-error.js'
import {
  BAD_REQUEST_PAGE,
  CANCEL_REFUSED_PAGE,
  CANCEL_TOO_LATE_PAGE,
  CANCELLED_PAGE,
  type CallbackPage,
  ENDED_PAGE,
  errorPage,
  FORBIDDEN_HOST_PAGE,
  NOT_FOUND_PAGE,
  rawErrorResponse,
  sendPage,
  STATE_MISMATCH_PAGE,
  SUCCESS_PAGE,
} from './callback-pages.js'
import { DEFAULT_CALLBACK_PORTS, DEFAULT_LOGIN_TIMEOUT_MS } from './constants.js'

/** The path of the redirect URI. */
export const CALLBACK_PATH = '/auth/callback'

/** The path that cancels a sign-in in progress (also used to clear a stale one). */
export const CANCEL_PATH = '/cancel'

/** The only address the callback server binds. */
export const CALLBACK_HOST = '127.0.0.1'

/** Tries per port after the first failed bind and the `/cancel` request. */
export const BIND_RETRIES = 10

/** Pause between bind tries. */
export const BIND_RETRY_DELAY_MS = 200

/** How long the `/cancel` request to a busy port may take. */
const STALE_CANCEL_TIMEOUT_MS = 1_000

/** After the last answer, connections are dropped at the latest this much later. */
const CLOSE_GRACE_MS = 500

/** Options of {@link startCallbackServer}. */
export interface CallbackServerOptions {
  /** The `state` of the authorization request. */
  expectedState: string
  /**
   * Called once with the authorization code of the first callback whose state matches. The success page is
   * sent after it resolves; if it rejects, an error page shows the `BrokerError` code and message.
   */
  onCallback: (code: Secret) => Promise<void>
  /** Registered callback ports, tried in order (default 1455, 1457). */
  ports?: readonly number[]
  /** Give up after this long without a callback (default 10 minutes) with `ERR_LOGIN_TIMEOUT`. */
  timeoutMs?: number
  /** Time source for the timeout and the bind retries (default: the system clock). */
  clock?: Clock
  /** The fetch used for the `/cancel` request to a busy port (default: the global fetch). */
  fetch?: typeof fetch
  /** Aborting it ends the sign-in with `ERR_LOGIN_CANCELLED`. */
  signal?: AbortSignal
}

/** A running callback server. */
export interface CallbackServer {
  /** The bound port (one of `ports`). */
  readonly port: number
  /** `http://127.0.0.1:<port>/auth/callback`, byte for byte what the issuer has registered. */
  readonly redirectUri: string
  /**
   * Settles when the sign-in ends, after the port is closed: resolves once the success page was sent; rejects
   * with `ERR_LOGIN_TIMEOUT`, `ERR_LOGIN_CANCELLED`, the meaning of an issuer error, or the error of
   * `onCallback`.
   */
  readonly done: Promise<void>
  /** Ends the sign-in with `ERR_LOGIN_CANCELLED` (no effect once it has ended). */
  cancel(): void
}

/**
 * The redirect URI for a callback port.
 * @example
 * callbackRedirectUri(1455) // 'http://127.0.0.1:1455/auth/callback'
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export function callbackRedirectUri(port: number): string {
  return `http://${CALLBACK_HOST}:${port}${CALLBACK_PATH}`
}

type Phase = 'waiting' | 'completing' | 'ended'

type Outcome = { ok: true } | { ok: false; error: Error }

/**
 * Starts the callback server and resolves once it listens. Throws `ERR_PORT_IN_USE` when no port of the list
 * can be bound, `ERR_LOGIN_CANCELLED` when `signal` aborts first.
 * @example
 * const server = await startCallbackServer({ expectedState: state, onCallback: async (code) => {
 *   await persist(await exchangeAuthorizationCode(config, { code, redirectUri, codeVerifier }))
 * } })
 * openBrowser(buildAuthorizeUrl(config, { redirectUri: server.redirectUri, codeChallenge, state }))
 * await server.done
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export async function startCallbackServer(options: CallbackServerOptions): Promise<CallbackServer> {
  const ports = checkPorts(options.ports ?? DEFAULT_CALLBACK_PORTS)
  const clock = options.clock ?? systemClock
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new BrokerError('ERR_INVALID_CONFIG', 'The sign-in timeout must be a positive number.')
  }
  if (options.expectedState === '') {
    throw new BrokerError('ERR_INVALID_CONFIG', 'The callback server needs a non-empty state.')
  }
  const { signal } = options
  if (signal?.aborted === true) throw cancelledError()

  const server = createServer({
    headersTimeout: 10_000,
    requestTimeout: 15_000,
    keepAliveTimeout: 1_000,
    requireHostHeader: false,
  })
  const port = await bindFirstFree(server, ports, clock, options.fetch ?? fetch, signal)

  // An object, not a `let`: the phase changes across awaits, which control-flow narrowing cannot see.
  const login: { phase: Phase } = { phase: 'waiting' }
  const phaseNow = (): Phase => login.phase
  let settle: (outcome: Outcome) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    settle = (outcome) => {
      if (outcome.ok) resolve()
      else reject(outcome.error)
    }
  })
  // The caller may not await `done` before it rejects (e.g. while opening the browser); mark it handled.
  done.catch(() => undefined)

  const timer = new AbortController()
  const onAbort = () => {
    end(null, { ok: false, error: cancelledError() })
  }

  /** Ends the sign-in: no further request is served; after `res` is sent (if any) the port closes. */
  const end = (res: ServerResponse | null, outcome: Outcome) => {
    if (login.phase === 'ended') return
    login.phase = 'ended'
    timer.abort()
    signal?.removeEventListener('abort', onAbort)
    let closed = false
    const shutdown = () => {
      if (closed) return
      closed = true
      server.close(() => {
        settle(outcome)
      })
      server.closeAllConnections()
    }
    if (res === null || res.writableFinished || res.destroyed) {
      shutdown()
      return
    }
    res.once('close', shutdown)
    setTimeout(shutdown, CLOSE_GRACE_MS).unref()
  }

  const handleCallback = async (res: ServerResponse, params: URLSearchParams) => {
    const states = params.getAll('state')
    const state = states.length === 1 ? states[0] : undefined
    if (
      login.phase !== 'waiting' ||
      state === undefined ||
      !safeEqual(state, options.expectedState)
    ) {
      sendPage(res, login.phase === 'ended' ? ENDED_PAGE : STATE_MISMATCH_PAGE)
      return
    }
    login.phase = 'completing'
    timer.abort()
    const errors = params.getAll('error')
    if (errors.length > 0) {
      const error = callbackError(errors[0] ?? '', params.get('error_description'))
      sendPage(res, errorPage(400, error.code, error.message))
      end(res, { ok: false, error })
      return
    }
    const codes = params.getAll('code')
    const code = codes.length === 1 ? codes[0] : undefined
    if (code === undefined || code === '') {
      const error = new BrokerError(
        'ERR_UPSTREAM_BAD_RESPONSE',
        'The issuer redirected back without exactly one authorization code.',
        { hint: 'Run codex-broker login again.' },
      )
      sendPage(res, errorPage(400, error.code, error.message))
      end(res, { ok: false, error })
      return
    }
    try {
      await options.onCallback(Secret.from(code))
    } catch (error) {
      if (phaseNow() !== 'ended') {
        const shown = toPublicError(error)
        const status = isBrokerError(error) ? clampErrorStatus(error.httpStatus) : 500
        sendPage(res, errorPage(status, shown.code, shown.message))
      }
      end(res, { ok: false, error: asError(error) })
      return
    }
    if (phaseNow() === 'ended') return
    sendPage(res, SUCCESS_PAGE)
    end(res, { ok: true })
  }

  const handleCancel = (req: IncomingMessage, res: ServerResponse) => {
    const site = req.headers['sec-fetch-site']
    if (req.headers.origin !== undefined || (site !== undefined && site !== 'none')) {
      sendPage(res, CANCEL_REFUSED_PAGE)
      return
    }
    if (login.phase === 'completing') {
      sendPage(res, CANCEL_TOO_LATE_PAGE)
      return
    }
    if (login.phase === 'ended') {
      sendPage(res, ENDED_PAGE)
      return
    }
    sendPage(res, CANCELLED_PAGE)
    end(res, { ok: false, error: cancelledError() })
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = routeOf(req, port)
    if (target.kind === 'page') {
      sendPage(res, target.page)
      return
    }
    if (req.method === 'GET' && target.path === CALLBACK_PATH) {
      handleCallback(res, target.params).catch(() => {
        res.destroy()
      })
      return
    }
    if (req.method === 'GET' && target.path === CANCEL_PATH) {
      handleCancel(req, res)
      return
    }
    sendPage(res, NOT_FOUND_PAGE)
  })
  server.on('clientError', (error: Error, socket: Socket) => {
    if (errnoCode(error) !== 'ECONNRESET' && socket.writable) {
      socket.end(rawErrorResponse(errnoCode(error) === 'HPE_HEADER_OVERFLOW' ? 431 : 400))
      return
    }
    socket.destroy()
  })

  signal?.addEventListener('abort', onAbort, { once: true })
  clock.sleep(timeoutMs, timer.signal).then(
    () => {
      if (login.phase !== 'waiting') return
      end(null, {
        ok: false,
        error: new BrokerError(
          'ERR_LOGIN_TIMEOUT',
          `No sign-in arrived within ${formatDuration(timeoutMs)}; the sign-in was stopped.`,
          {
            hint: 'Run codex-broker login again (or use --device on a machine without a browser).',
          },
        ),
      })
    },
    () => undefined,
  )

  return {
    port,
    redirectUri: callbackRedirectUri(port),
    done,
    cancel: () => {
      end(null, { ok: false, error: cancelledError() })
    },
  }
}

type Target =
  { kind: 'page'; page: CallbackPage } | { kind: 'route'; path: string; params: URLSearchParams }

function routeOf(req: IncomingMessage, port: number): Target {
  const hosts: string[] = []
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    if (req.rawHeaders[index]?.toLowerCase() === 'host') hosts.push(req.rawHeaders[index + 1] ?? '')
  }
  const host = hosts[0]
  if (hosts.length !== 1 || host === undefined) return { kind: 'page', page: BAD_REQUEST_PAGE }
  if (!isAllowedHost(host, port)) return { kind: 'page', page: FORBIDDEN_HOST_PAGE }
  const raw = req.url ?? ''
  // Origin-form only: an absolute-form target (`GET http://evil/`) or `*` is refused.
  if (!raw.startsWith('/') || raw.startsWith('//')) return { kind: 'page', page: BAD_REQUEST_PAGE }
  const url = new URL(raw, `http://${CALLBACK_HOST}:${port}`)
  return { kind: 'route', path: url.pathname, params: url.searchParams }
}

/**
 * True when `host` (a `Host` header) is exactly `127.0.0.1:<port>` or `localhost:<port>`; `localhost` is
 * compared case-insensitively (host names are), everything else byte for byte.
 * @example
 * isAllowedHost('LOCALHOST:1455', 1455) // true
 * isAllowedHost('127.1:1455', 1455) // false
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.2
 */
export function isAllowedHost(host: string, port: number): boolean {
  const lower = host.toLowerCase()
  return lower === `${CALLBACK_HOST}:${port}` || lower === `localhost:${port}`
}

async function bindFirstFree(
  server: Server,
  ports: readonly number[],
  clock: Clock,
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<number> {
  for (const port of ports) {
    if (await tryListen(server, port)) return port
    await cancelStaleLogin(fetchImpl, port)
    for (let attempt = 0; attempt < BIND_RETRIES; attempt += 1) {
      try {
        await clock.sleep(BIND_RETRY_DELAY_MS, signal)
      } catch (error) {
        throw cancelledError(error)
      }
      if (await tryListen(server, port)) return port
    }
  }
  throw new BrokerError(
    'ERR_PORT_IN_USE',
    `Could not listen on ${ports.map((port) => `${CALLBACK_HOST}:${port}`).join(' or ')}: ${ports.length > 1 ? 'every port is' : 'the port is'} in use by another program. The sign-in needs one of these ports, the only redirect addresses registered with the issuer.`,
    {
      hint: 'Close the program holding the port (another Codex or codex-broker sign-in?) and try again, or use codex-broker login --device.',
    },
  )
}

function tryListen(server: Server, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening)
      if (errnoCode(error) === 'EADDRINUSE') {
        resolve(false)
        return
      }
      reject(
        new BrokerError(
          'ERR_PORT_IN_USE',
          `Could not listen on ${CALLBACK_HOST}:${port} (${errnoCode(error) ?? 'unknown error'}).`,
          { cause: error, hint: 'Try again, or use codex-broker login --device.' },
        ),
      )
    }
    const onListening = () => {
      server.off('error', onError)
      resolve(true)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ port, host: CALLBACK_HOST, exclusive: true })
  })
}

/** One `GET /cancel` to a busy port: stops a stale sign-in server there; every failure is ignored. */
async function cancelStaleLogin(fetchImpl: typeof fetch, port: number): Promise<void> {
  try {
    const response = await fetchImpl(`http://${CALLBACK_HOST}:${port}${CANCEL_PATH}`, {
      redirect: 'manual',
      signal: AbortSignal.timeout(STALE_CANCEL_TIMEOUT_MS),
    })
    await response.body?.cancel()
  } catch {
    // Whatever holds the port did not answer like a sign-in server; the retries decide.
  }
}

function checkPorts(ports: readonly number[]): readonly number[] {
  if (
    ports.length === 0 ||
    ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65_535)
  ) {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      'The callback ports must be a non-empty list of port numbers (1–65535).',
    )
  }
  return ports
}

function asError(error: unknown): Error {
  return error instanceof Error
    ? error
    : new BrokerError('ERR_INTERNAL', 'The sign-in failed.', { cause: error })
}

function cancelledError(cause?: unknown): BrokerError {
  return new BrokerError('ERR_LOGIN_CANCELLED', 'The sign-in was cancelled.', { cause })
}

function clampErrorStatus(status: number): number {
  return status >= 400 && status <= 599 ? status : 500
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}`
  if (ms % 1_000 === 0) return `${ms / 1_000} s`
  return `${ms} ms`
}
