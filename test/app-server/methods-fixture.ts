/**
 * Test fixture for the app-server methods: services over a simulator and a memory store, and a fake RpcContext
 * that records every notify and broadcast, so tests call handlers directly and assert what went out.
 */
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { MemoryCredentialStore } from '../../src/store/index.js'
import { TokenManager } from '../../src/tokens/index.js'
import type { AppServerServices } from '../../src/app-server/methods/services.js'
import type { RpcContext } from '../../src/app-server/rpc/rpc-method.js'
import { freePorts } from '../oauth/support.js'

export interface Sent {
  method: string
  params: unknown
}

export interface RecordingContext extends RpcContext {
  readonly notified: Sent[]
  readonly broadcasts: Sent[]
  /** Resolves with the first broadcast of `method` matching `where`. */
  waitFor(method: string, where?: (params: unknown) => boolean): Promise<unknown>
}

export function recordingContext(): RecordingContext {
  const notified: Sent[] = []
  const broadcasts: Sent[] = []
  const waiters: {
    method: string
    where: (p: unknown) => boolean
    resolve: (p: unknown) => void
  }[] = []
  const controller = new AbortController()
  return {
    connectionId: 'test-connection',
    requestId: 1,
    signal: controller.signal,
    notified,
    broadcasts,
    notify(method, params) {
      notified.push({ method, params })
      return Promise.resolve()
    },
    broadcast(method, params) {
      broadcasts.push({ method, params })
      for (const waiter of [...waiters]) {
        if (waiter.method === method && waiter.where(params)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve(params)
        }
      }
    },
    waitFor(method, where = () => true) {
      const seen = broadcasts.find((sent) => sent.method === method && where(sent.params))
      if (seen) return Promise.resolve(seen.params)
      return new Promise((resolve) => waiters.push({ method, where, resolve }))
    },
  }
}

export async function servicesFor(
  sim: Simulator,
  extra: Omit<Partial<AppServerServices>, 'store'> = {},
): Promise<AppServerServices & { store: MemoryCredentialStore }> {
  const store = new MemoryCredentialStore()
  const issuer = { issuer: sim.issuer, clientId: CODEX_CLIENT_ID }
  return {
    tokens: new TokenManager({ store, issuer }),
    issuer,
    backendBase: sim.backendBase,
    identity: { originator: 'codex_cli_rs', version: '0.0.0-test' },
    callbackPorts: await freePorts(2),
    ...extra,
    store,
  }
}
