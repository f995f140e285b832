/**
 * Test fixture for the proxy over an account pool: one simulator with several signed-in accounts in one
 * `MemoryCredentialStore`, one `TokenManager`, one `CodexBackend`, an `AccountPool` and a proxy with the
 * `{ kind: 'pool' }` upstream, all on one movable clock (the simulator's quota resets and the pool's cooldowns
 * move together), closed after the test; helpers that read the simulator's per-account counters.
 */
import { Writable } from 'node:stream'
import { afterEach } from 'vitest'
import { request } from 'undici'
import { AccountPool, type AccountPoolOptions, type PoolEvent } from '../../src/accounts/index.js'
import { type Clock, createLogger, Secret, systemClock } from '../../src/lib/index.js'
import { startProxy, type RunningProxy } from '../../src/proxy/index.js'
import { CODEX_CLIENT_ID, type Simulator } from '../../src/sim/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { MemoryCredentialStore } from '../../src/store/memory-credential-store.js'
import { TokenManager } from '../../src/tokens/index.js'
import { CodexBackend } from '../../src/upstream/index.js'
import { signIn, type SignedInAccount } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'
import { type Answer, RESPONSES_ROUTE } from './proxy-fixture.js'

const identity = { originator: 'codex_cli_rs', version: '0.1.0' }

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

/** The system clock moved forward by `advance` (shared by the simulator, the pool and the tokens). */
export class MovableClock implements Clock {
  #offset = 0
  now(): number {
    return Date.now() + this.#offset
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal)
  }
  advance(ms: number): void {
    this.#offset += ms
  }
}

/** A pool proxy in front of the simulator. */
export interface PoolFixture {
  sim: Simulator
  /** The signed-in accounts, in the store's order. */
  accounts: SignedInAccount[]
  store: MemoryCredentialStore
  pool: AccountPool
  proxy: RunningProxy
  clock: MovableClock
  events: PoolEvent[]
  logs: string[]
  /** Answered `codex/responses` requests per account, in the order of `accounts`. */
  answered(): number[]
  /** Every request that reached `codex/responses` (answered, refused or cut). */
  responsesCalls(): number
  /** POSTs a Responses request through the proxy. */
  post(body?: unknown, headers?: Record<string, string>): Promise<Answer>
}

/** Starts a simulator with `count` signed-in accounts and a pool proxy over them. */
export async function usePoolProxy(
  options: { count?: number } & Partial<Omit<AccountPoolOptions, 'store' | 'clock'>> = {},
): Promise<PoolFixture> {
  const { count = 3, ...poolOptions } = options
  const clock = new MovableClock()
  const sim = await useSimulator({ now: () => clock.now() })
  const accounts: SignedInAccount[] = []
  for (let i = 0; i < count; i++)
    accounts.push(await signIn(sim, { email: `pool${i}@example.com` }))
  const store = new MemoryCredentialStore()
  for (const account of accounts) {
    await store.put(
      accountFromSignIn(
        {
          idToken: Secret.from(account.idToken),
          accessToken: Secret.from(account.accessToken),
          refreshToken: Secret.from(account.refreshToken),
          expiresIn: null,
        },
        { now: clock.now() },
      ),
    )
  }
  const logs: string[] = []
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString('utf8'))
        callback()
      },
    }),
  })
  const tokens = new TokenManager({
    store,
    clock,
    issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
  })
  const backend = new CodexBackend({ backendBase: sim.backendBase, identity })
  const pool = new AccountPool({ store, clock, logger, ...poolOptions })
  const events: PoolEvent[] = []
  pool.on((event) => events.push(event))
  const proxy = await startProxy({ upstream: { kind: 'pool', pool, tokens, backend }, logger })
  cleanups.push(
    () => proxy.close(),
    () => pool.close(),
    () => backend.close(),
  )
  return {
    sim,
    accounts,
    store,
    pool,
    proxy,
    clock,
    events,
    logs,
    answered: () => {
      const counted = sim.control.counters().responsesByAccount
      return accounts.map((account) => counted[account.accountId] ?? 0)
    },
    responsesCalls: () => sim.control.counters().requests[RESPONSES_ROUTE] ?? 0,
    post: async (body = poolBody(), headers = {}) => {
      const answer = await request(`${proxy.url}/v1/responses`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-proxy-token': proxy.token.reveal(),
          ...headers,
        },
        body: JSON.stringify(body),
        // "Did not hang": far above any answer, far below a reset hours away.
        signal: AbortSignal.timeout(15_000),
      })
      return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() }
    },
  }
}

/** A streamed Responses request body. */
export function poolBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-5.4', input: [{ role: 'user', content: 'hello' }], stream: true, ...extra }
}
