/**
 * The undici connection pool for upstream calls. Its own `Agent` rather than the global one, tuned for long
 * model streams: keep-alive sockets per origin, a 60-second wait for the answer's headers, but no body timeout
 * at all — a stream that thinks for ten minutes between bytes is normal and must never be killed by an idle
 * timer (SECURITY.md PX-09; the caller's `AbortSignal` ends it instead). No redirect interceptor is installed,
 * so a 3xx is answered to the caller and never followed while carrying the bearer (C2.4, PX-08).
 */
import { Agent, type Dispatcher } from 'undici'

/** Options of {@link createUpstreamDispatcher}. */
export interface UpstreamDispatcherOptions {
  /**
   * Sockets per origin (default 4,096). Under HTTP/1.1 every stream in flight holds one socket for its whole
   * life, so this is how many answers can stream at once; a lower cap would make the next request wait, silently,
   * for a stream to end. It matches the proxy's default request cap.
   */
  connections?: number
  /** How long an idle keep-alive socket is kept (default 60 s). */
  keepAliveTimeoutMs?: number
  /** How long to wait for the answer's headers (default 60 s). */
  headersTimeoutMs?: number
  /** How long to wait for the TCP/TLS connection (default 10 s). */
  connectTimeoutMs?: number
}

/**
 * A dispatcher for the upstream clients.
 * @example
 * const dispatcher = createUpstreamDispatcher()
 * const backend = new CodexBackend({ backendBase, identity, dispatcher })
 * // …
 * await closeDispatcher(dispatcher)
 */
export function createUpstreamDispatcher(options: UpstreamDispatcherOptions = {}): Dispatcher {
  const keepAlive = options.keepAliveTimeoutMs ?? 60_000
  return new Agent({
    connections: options.connections ?? 4_096,
    pipelining: 1,
    keepAliveTimeout: keepAlive,
    keepAliveMaxTimeout: Math.max(keepAlive, 600_000),
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    bodyTimeout: 0,
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
  })
}

/**
 * Closes a dispatcher: lets requests in flight finish for up to `graceMs`, then destroys what is left.
 * @example
 * await closeDispatcher(dispatcher, 1_000)
 */
export async function closeDispatcher(dispatcher: Dispatcher, graceMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const grace = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, graceMs, 'timeout')
    timer.unref()
  })
  try {
    // Closing twice rejects (ClientClosedError); closed is closed.
    const closing = dispatcher.close().then(
      () => 'closed' as const,
      () => 'closed' as const,
    )
    if ((await Promise.race([closing, grace])) === 'timeout') await dispatcher.destroy()
  } finally {
    clearTimeout(timer)
  }
}
