/**
 * The demo's app-server step: generates a capability token into a 0600 file in the demo home, starts the
 * WebSocket JSON-RPC app-server on 127.0.0.1 with only the token's digest, connects to it the way any client
 * would (`Authorization: Bearer <token>` at the upgrade), calls `initialize`, `account/read` and one streamed
 * `responses/create`, and prints how to connect with the token read from the file — the path, never the token.
 */
import { join } from 'node:path'
import WebSocket from 'ws'
import { generateCapabilityToken, loadCapabilityTokenFile } from '../../app-server/index.js'
import { createAppServerMethods } from '../../app-server/methods/create-app-server-methods.js'
import type { RunningAppServer } from '../../app-server/server/app-server-options.js'
import { startAppServer } from '../../app-server/server/start-app-server.js'
import { writeSecretFile, type Secret } from '../../lib/index.js'
import { DEFAULT_ORIGINATOR, type IssuerConfig } from '../../oauth/index.js'
import type { CredentialStore } from '../../store/index.js'
import type { TokenManager } from '../../tokens/index.js'
import { CodexBackend } from '../../upstream/index.js'
import { VERSION } from '../version.js'

/** What the demo needs to start the app-server. */
export interface DemoAppServerOptions {
  readonly home: string
  readonly backendBase: string
  readonly store: CredentialStore
  readonly issuer: IssuerConfig
  readonly tokens: TokenManager
  readonly accountId: string
  readonly say: (line?: string) => void
}

/** The running demo app-server; `close()` stops it, its methods and its upstream client. */
export interface DemoAppServer {
  readonly server: RunningAppServer
  close(): Promise<void>
}

/** How long the demo waits for one answer before giving up on the step. */
const CALL_TIMEOUT_MS = 10_000

/**
 * Starts the app-server, calls it and prints how to connect.
 * @example
 * const demo = await startDemoAppServer({ home, backendBase, store, issuer, tokens, accountId, say })
 */
export async function startDemoAppServer(options: DemoAppServerOptions): Promise<DemoAppServer> {
  const tokenFile = join(options.home, 'app-server-token')
  const token = generateCapabilityToken()
  await writeSecretFile(tokenFile, `${token.reveal()}\n`)
  // Read back through the same checks `serve --ws-token-file` applies; only the digest is kept.
  const verifier = await loadCapabilityTokenFile(tokenFile)
  const identity = { originator: DEFAULT_ORIGINATOR, version: VERSION }
  const backend = new CodexBackend({ backendBase: options.backendBase, identity })
  const methods = createAppServerMethods({
    store: options.store,
    tokens: options.tokens,
    issuer: options.issuer,
    backendBase: options.backendBase,
    identity,
    upstream: {
      kind: 'chatgpt',
      tokens: options.tokens,
      accountId: options.accountId,
      backend,
    },
  })
  const server = await startAppServer({
    methods: methods.methods,
    auth: { kind: 'capability', verifier },
    host: '127.0.0.1',
    port: 0,
  }).catch(async (error: unknown) => {
    await methods.close()
    await backend.close()
    throw error
  })
  const close = async (): Promise<void> => {
    await server.close()
    await methods.close()
    await backend.close()
  }
  const { say } = options
  say()
  say(`4. App-server listening on ${server.url} (capability token in ${tokenFile}, mode 0600)`)
  try {
    await talkTo(server.url, token, say)
  } catch (error) {
    say(`   the app-server step failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  say()
  say('Connect to the app-server (the token is read from the file, never typed):')
  say(`  websocat -H "Authorization: Bearer $(cat ${tokenFile})" ${server.url}`)
  say(
    `  then type: {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"me"}}}`,
  )
  say('Or from Node with the ws package:')
  say(`  const token = readFileSync('${tokenFile}', 'utf8').trim()`)
  say(
    `  const ws = new WebSocket('${server.url}', { headers: { Authorization: \`Bearer \${token}\` } })`,
  )
  return { server, close }
}

interface RpcAnswer {
  readonly id?: unknown
  readonly method?: unknown
  readonly params?: unknown
  readonly result?: unknown
  readonly error?: { readonly code?: number; readonly message?: string }
}

/** Connects with the token, calls three methods and prints what came back. */
async function talkTo(url: string, token: Secret, say: (line?: string) => void): Promise<void> {
  const socket = new WebSocket(url, {
    headers: { authorization: `Bearer ${token.reveal()}` },
    handshakeTimeout: CALL_TIMEOUT_MS,
  })
  const client = rpcClient(socket)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve()
      })
      socket.once('error', reject)
    })
    // Later errors end in 'close', which fails what is pending.
    socket.on('error', () => undefined)
    const init = await client.call('initialize', {
      clientInfo: { name: 'codex-broker-demo', version: VERSION },
    })
    say(`   initialize: ${summary(init)}`)
    const read = (await client.call('account/read', {})) as {
      account?: { email?: string | null; planType?: string | null } | null
    }
    const account = read.account
    say(
      `   account/read: ${account ? `${account.email ?? '?'} (plan ${account.planType ?? '?'})` : 'no account'}`,
    )
    let text = ''
    client.onNotification = (method, params) => {
      if (method !== 'responses/event') return
      const event = (params as { event?: { type?: unknown; delta?: unknown } } | null)?.event
      if (event?.type === 'response.output_text.delta' && typeof event.delta === 'string') {
        text += event.delta
      }
    }
    await client.call('responses/create', {
      request: {
        model: 'gpt-5.4',
        input: [{ role: 'user', content: 'hello from the app-server' }],
      },
    })
    say(`   responses/create streamed: "${text}"`)
  } finally {
    client.dispose()
    socket.close()
  }
}

function summary(result: unknown): string {
  if (typeof result !== 'object' || result === null) return 'ok'
  const agent = (result as Record<string, unknown>).userAgent
  return typeof agent === 'string' ? `ok (${agent})` : 'ok'
}

interface RpcClient {
  call(method: string, params: unknown): Promise<unknown>
  onNotification: (method: string, params: unknown) => void
  dispose(): void
}

/** A minimal JSON-RPC 2.0 client over one socket: numbered requests, answers matched by id. */
function rpcClient(socket: WebSocket): RpcClient {
  let nextId = 1
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const failAll = (error: Error): void => {
    for (const waiter of pending.values()) waiter.reject(error)
    pending.clear()
  }
  const client: RpcClient = {
    onNotification: () => undefined,
    call(method, params) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${method}: no answer within ${String(CALL_TIMEOUT_MS / 1000)} s`))
        }, CALL_TIMEOUT_MS)
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer)
            resolve(value)
          },
          reject: (error) => {
            clearTimeout(timer)
            reject(error)
          },
        })
        socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
      })
    },
    dispose() {
      failAll(new Error('the demo client closed'))
    },
  }
  socket.on('message', (data: WebSocket.RawData) => {
    let message: RpcAnswer
    try {
      message = JSON.parse(rawText(data)) as RpcAnswer
    } catch {
      return
    }
    if (typeof message.method === 'string' && message.id === undefined) {
      client.onNotification(message.method, message.params)
      return
    }
    if (typeof message.id !== 'number') return
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.error === undefined) waiter.resolve(message.result)
    else {
      waiter.reject(new Error(`${String(message.error.code)} ${message.error.message ?? 'error'}`))
    }
  })
  socket.on('close', () => {
    failAll(new Error('the connection closed'))
  })
  return client
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8')
}
