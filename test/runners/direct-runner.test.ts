/**
 * DirectRunner against the simulator: a turn streams text then done with the backend's usage; a 401 before any
 * event is recovered once (one refresh, one retry); a stream cut, a failed answer and an account that must sign in
 * again end with an error event (never a throw); an abort ends the run with `aborted`; no token in any event.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DirectRunner, type RunEvent } from '../../src/runners/index.js'
import { FileCredentialStore } from '../../src/store/index.js'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import { TokenManager } from '../../src/tokens/index.js'
import { CodexBackend } from '../../src/upstream/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import { collect, storeAccount } from './fixtures.js'

const backends: CodexBackend[] = []
afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()))
})

async function setup() {
  const sim = await useSimulator()
  const alice = await signIn(sim, { email: 'alice@example.com' })
  const store = new FileCredentialStore({ home: join(await makeTempDir(), 'broker') })
  await storeAccount(store, alice)
  const tokens = new TokenManager({
    store,
    issuer: { issuer: sim.issuer, clientId: CODEX_CLIENT_ID },
  })
  const backend = new CodexBackend({
    backendBase: sim.backendBase,
    identity: { originator: 'codex_cli_rs', version: '0.1.0' },
  })
  backends.push(backend)
  return { sim, alice, store, runner: new DirectRunner({ tokens, backend }) }
}

function textOf(events: RunEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.delta : '')).join('')
}

describe('DirectRunner', () => {
  it('streams the answer as text and ends with done and the backend’s usage', async () => {
    const t = await setup()
    t.sim.control.configure({ streamChunks: 4 })
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'hello direct',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events.filter((event) => event.type === 'text').length).toBeGreaterThan(1)
    expect(textOf(events)).toContain('hello direct')
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      usage: {
        input_tokens: expect.any(Number) as unknown,
        total_tokens: expect.any(Number) as unknown,
      },
    })
    const request = t.sim.control.requests('/backend-api/codex/responses')[0]
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
      model: 'gpt-5.4',
      stream: true,
      store: false,
    })
  })

  it('a 401 before any event: one refresh, one retry, and the turn completes', async () => {
    const t = await setup()
    t.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: '401' })
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'again',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events.at(-1)?.type).toBe('done')
    const counters = t.sim.control.counters()
    expect(counters.refreshCalls).toBe(1)
    expect(counters.requests['/backend-api/codex/responses']).toBe(2)
  })

  it('a second 401 is reported as an error event, not retried again', async () => {
    const t = await setup()
    t.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: '401', count: 2 })
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'again',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events).toEqual([
      expect.objectContaining({ type: 'error', code: 'upstream_unauthorized' }),
    ])
    expect(t.sim.control.counters().requests['/backend-api/codex/responses']).toBe(2)
  })

  it('a stream cut mid-way ends with stream_cut after the text received', async () => {
    const t = await setup()
    t.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: 'cut' })
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'cut me',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'stream_cut' })
  })

  it('a model the plan does not include is an error event', async () => {
    const t = await setup()
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'x',
        model: 'gpt-5.5-pro',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'model_unsupported' })])
  })

  it('an account whose sign-in was revoked ends with needs_login', async () => {
    const t = await setup()
    t.sim.control.revokeAccount({ accountId: t.alice.accountId })
    t.sim.control.injectFault({ route: '/backend-api/codex/responses', kind: '401' })
    const events = await collect(
      t.runner.run({
        accountId: t.alice.accountId,
        prompt: 'x',
        signal: AbortSignal.timeout(10_000),
      }),
    )
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'needs_login' })])
    const issued = t.sim.control.issued()
    expect(issued.length).toBeGreaterThan(2)
    for (const secret of issued) expect(JSON.stringify(events)).not.toContain(secret)
  })

  it('an abort during a slow stream ends the run with aborted', async () => {
    const t = await setup()
    t.sim.control.configure({ streamChunks: 50, streamDelayMs: 50 })
    const controller = new AbortController()
    const events: RunEvent[] = []
    for await (const event of t.runner.run({
      accountId: t.alice.accountId,
      prompt: 'a long answer please',
      signal: controller.signal,
    })) {
      events.push(event)
      if (event.type === 'text') controller.abort()
    }
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'aborted' })
  })
})
