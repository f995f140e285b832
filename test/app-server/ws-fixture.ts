/**
 * Test fixture for the app-server: starts a server on port 0 (closed after each test) with a capability token and
 * a few test methods, opens `ws` clients with any headers, and sends raw bytes over `node:net` for requests no
 * client library would send.
 */
import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { afterEach } from 'vitest'
import WebSocket from 'ws'
import { capabilityFromSha256 } from '../../src/app-server/auth/index.js'
import { RPC_ERROR_CODES, RpcError } from '../../src/app-server/rpc/rpc-error.js'
import type { RpcMethod } from '../../src/app-server/rpc/rpc-method.js'
import type {
  RunningAppServer,
  StartAppServerOptions,
} from '../../src/app-server/server/app-server-options.js'
import { startAppServer } from '../../src/app-server/server/start-app-server.js'

export const TOKEN = 'test-capability-token-0123456789abcdefghijkl'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  await Promise.all(
    cleanups.splice(0).map(async (cleanup) => {
      await cleanup()
    }),
  )
})

/** Calls seen by the test methods, and a gate the `wait` method blocks on. */
export interface MethodSpy {
  calls: string[]
  signals: AbortSignal[]
  release(): void
}

/** initialize, echo (params + connection id), wait (until release), boom (throws a secret), rpcFail. */
export function testMethods(spy: MethodSpy): Map<string, RpcMethod> {
  let release: () => void = () => undefined
  let gate = new Promise<void>((resolve) => (release = resolve))
  spy.release = () => {
    release()
    gate = new Promise<void>((resolve) => (release = resolve))
  }
  const track = (
    name: string,
    handle: RpcMethod['handle'],
    requiresInitialize = true,
  ): RpcMethod => ({
    requiresInitialize,
    handle: (params, context) => {
      spy.calls.push(name)
      spy.signals.push(context.signal)
      return handle(params, context)
    },
  })
  return new Map([
    ['initialize', track('initialize', () => Promise.resolve({ server: 'test' }), false)],
    [
      'echo',
      track('echo', async (params, context) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
        return { params, connectionId: context.connectionId }
      }),
    ],
    ['wait', track('wait', () => gate.then(() => 'released'))],
    ['boom', track('boom', () => Promise.reject(new Error('sk-secret-in-message-do-not-send')))],
    [
      'rpcFail',
      track('rpcFail', () =>
        Promise.reject(
          new RpcError(RPC_ERROR_CODES.serverError, 'Not signed in.', { retry: false }),
        ),
      ),
    ],
    ['nothing', track('nothing', () => Promise.resolve(undefined))],
    [
      'notifyMe',
      track('notifyMe', async (_params, context) => {
        await context.notify('test/note', { n: 1 })
        context.broadcast('test/all', { n: 2 })
        return 'ok'
      }),
    ],
  ])
}

export interface Fixture {
  server: RunningAppServer
  spy: MethodSpy
}

/** A server with capability auth (TOKEN) unless `auth` is given. */
export async function useAppServer(options: Partial<StartAppServerOptions> = {}): Promise<Fixture> {
  const spy: MethodSpy = { calls: [], signals: [], release: () => undefined }
  const server = await startAppServer({
    methods: testMethods(spy),
    auth: {
      kind: 'capability',
      verifier: capabilityFromSha256(createHash('sha256').update(TOKEN).digest('hex')),
    },
    ...options,
  })
  cleanups.push(() => server.close())
  return { server, spy }
}

/** A message reader over a client socket. */
export interface Client {
  ws: WebSocket
  next(): Promise<unknown>
  /** The next message, or 'silence' when none arrives within `ms`. */
  nextWithin(ms: number): Promise<unknown>
  send(value: unknown): void
  call(method: string, params?: unknown, id?: number | string): Promise<unknown>
  closed: Promise<{ code: number; reason: string }>
}

/** Opens a client (Bearer TOKEN unless headers say otherwise) and waits for it to open. */
export async function openClient(
  server: RunningAppServer,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
  path = '/',
): Promise<Client> {
  const ws = new WebSocket(`${server.url}${path}`, { headers })
  const queue: unknown[] = []
  const waiters: ((value: unknown) => void)[] = []
  ws.on('message', (data) => {
    const value: unknown = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : '')
    const waiter = waiters.shift()
    if (waiter === undefined) queue.push(value)
    else waiter(value)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) })
    })
  })
  ws.on('error', () => undefined)
  cleanups.push(() => {
    ws.terminate()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve()
    })
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${String(res.statusCode)}`))
    })
    ws.once('error', reject)
  })
  let nextId = 1
  const client: Client = {
    ws,
    closed,
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve) => waiters.push(resolve)),
    nextWithin: (ms) => {
      if (queue.length > 0) return Promise.resolve(queue.shift())
      return new Promise((resolve) => {
        const waiter = (value: unknown): void => {
          clearTimeout(timer)
          resolve(value)
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          resolve('silence')
        }, ms)
        waiters.push(waiter)
      })
    },
    send: (value) => {
      ws.send(typeof value === 'string' ? value : JSON.stringify(value))
    },
    call: async (method, params, id = nextId++) => {
      client.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })
      return client.next()
    },
  }
  return client
}

/** The status of a refused handshake (throws if it opened). */
export async function upgradeStatus(
  server: RunningAppServer,
  headers: Record<string, string>,
  path = '/',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const ws = new WebSocket(`${server.url}${path}`, { headers })
  ws.on('error', () => undefined)
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('the upgrade succeeded'))
    })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers })
      })
      res.on('error', () => {
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers })
      })
    })
  })
}

/** Sends raw bytes and collects everything until the server closes. */
export function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(text)
    })
    let received = ''
    socket.on('data', (chunk) => (received += chunk.toString('latin1')))
    socket.on('close', () => {
      resolve(received)
    })
    socket.on('error', reject)
    socket.setTimeout(5_000, () => socket.destroy())
  })
}

/** Sends raw bytes and resolves with the first chunk the server answers, then drops the socket. */
export function firstAnswer(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(text)
    })
    socket.once('data', (chunk) => {
      socket.destroy()
      resolve(chunk.toString('latin1'))
    })
    socket.on('error', reject)
  })
}

/** A well-formed upgrade request with extra header lines. */
export function upgradeRequest(port: number, extra: string[], method = 'GET'): string {
  return [
    `${method} / HTTP/1.1`,
    `Host: 127.0.0.1:${String(port)}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n')
}

/** The status code of a raw HTTP answer. */
export function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)
}
