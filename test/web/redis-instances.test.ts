/**
 * Two handler instances behind one load balancer, sharing the real Redis at REDIS_URL (default
 * redis://127.0.0.1:6379; CI starts one): sessions, credentials and rate-limit counters under a key prefix per
 * test run, removed afterwards.
 */
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { afterAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/lib/index.js'
import { EncryptionKey, RedisCredentialStore } from '../../src/store/index.js'
import { RedisSessionStore, type CodexHandlerOptions } from '../../src/web/index.js'
import { useSimulator } from '../support/sim.js'
import { ndjsonEvents, signIn, useWebHandler, type WebFixture } from './web-fixture.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const runPrefix = `codex-broker-test:web:${randomBytes(6).toString('hex')}:`
const client = createClient({ url })
client.on('error', () => undefined)
await client.connect()

afterAll(async () => {
  const keys: string[] = []
  for await (const batch of client.scanIterator({ MATCH: `${runPrefix}*`, COUNT: 500 })) {
    keys.push(...batch)
  }
  if (keys.length > 0) await client.del(keys)
  await client.close()
})

let tests = 0

/** Two instances sharing one Redis prefix and one simulator. */
async function twoInstances(
  rateLimits?: CodexHandlerOptions['rateLimits'],
): Promise<[WebFixture, WebFixture]> {
  tests += 1
  const prefix = `${runPrefix}${tests}:`
  const encryption = EncryptionKey.generate()
  const clock = new ManualClock(Date.now())
  const sim = await useSimulator({ now: () => clock.now() })
  const make = () =>
    useWebHandler(
      {
        sessionStore: new RedisSessionStore({ client, encryption, keyPrefix: `${prefix}s:` }),
        credentialStore: new RedisCredentialStore({ client, encryption, keyPrefix: `${prefix}c:` }),
        rateLimitRedis: { client, keyPrefix: `${prefix}rl` },
        idleTimeoutMs: 3 * 3_600_000,
        clock,
        ...(rateLimits === undefined ? {} : { rateLimits }),
      },
      sim,
    )
  return [await make(), await make()]
}

describe('several instances over Redis', () => {
  it('sign in on one instance, run on the other; logout on the first ends it on both', async () => {
    const [a, b] = await twoInstances()
    const { cookie } = await signIn(a)
    expect(await (await b.call('/status', { cookie })).json()).toMatchObject({ state: 'logged_in' })
    const run = await b.call('/run/stream', { body: { prompt: 'hello from b' }, cookie })
    expect(run.status).toBe(200)
    expect((await ndjsonEvents(run)).at(-1)).toMatchObject({ type: 'done' })
    await a.call('/logout', { body: {}, cookie })
    expect((await b.call('/status', { cookie })).status).toBe(401)
  })

  it('stores nothing readable: session values are encrypted, keys are hashes of the ids', async () => {
    const [a] = await twoInstances()
    const { cookie } = await signIn(a)
    const id = (cookie.split('=')[1] ?? '').split('.')[0] ?? ''
    const keys: string[] = []
    for await (const batch of client.scanIterator({
      MATCH: `${runPrefix}${tests}:*`,
      COUNT: 500,
    })) {
      keys.push(...batch)
    }
    expect(keys.length).toBeGreaterThan(0)
    const issued = a.sim.control.issued()
    for (const key of keys) {
      expect(key).not.toContain(id)
      const type = await client.type(key)
      if (type !== 'string') continue
      const value = (await client.get(key)) ?? ''
      for (const secret of issued) expect(value).not.toContain(secret)
      expect(value).not.toContain('web-user@example.com')
    }
  })

  it('one run per session holds across instances', async () => {
    const [a, b] = await twoInstances()
    a.sim.control.configure({ streamDelayMs: 50, streamChunks: 20 })
    const { cookie } = await signIn(a)
    const first = await a.call('/run/stream', { body: { prompt: 'long' }, cookie })
    expect(first.status).toBe(200)
    const second = await b.call('/run/stream', { body: { prompt: 'parallel' }, cookie })
    expect(second.status).toBe(409)
    await first.body?.cancel()
    // The release is a Redis round trip after the cancel.
    await expect
      .poll(async () => {
        const retry = await b.call('/run/stream', { body: { prompt: 'after' }, cookie })
        await retry.body?.cancel()
        return retry.status
      })
      .toBe(200)
  })

  it('the shared rate limit holds across instances', async () => {
    const [a, b] = await twoInstances({
      run: {
        perSession: { points: 4, durationSeconds: 60 },
        global: { points: 100, durationSeconds: 60 },
      },
    })
    const { cookie } = await signIn(a)
    const statuses: number[] = []
    for (let i = 0; i < 6; i += 1) {
      const instance = i % 2 === 0 ? a : b
      const response = await instance.call('/run/stream', { body: { prompt: `n${i}` }, cookie })
      statuses.push(response.status)
      await ndjsonEvents(response)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
  })

  it('both instances at expiry: exactly one refresh call reaches the issuer', async () => {
    const [a, b] = await twoInstances()
    const { cookie } = await signIn(a)
    // One clock shared by both instances and the simulator: the access token has expired for everyone.
    a.clock.advance(2 * 3_600_000)
    const before = a.sim.control.counters().refreshCalls
    const runs = await Promise.all(
      [a, b, a, b].map((instance, i) =>
        instance.call('/run/stream', { body: { prompt: `p${i}` }, cookie }),
      ),
    )
    const statuses = runs.map((run) => run.status).sort()
    await Promise.all(runs.map((run) => run.body?.cancel() ?? Promise.resolve()))
    // One run per session: one streams, the others are refused with 409 — all after one refresh.
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1)
    expect(statuses.every((status) => status === 200 || status === 409)).toBe(true)
    const sequential = [a, b]
    for (const instance of sequential) {
      const response = await instance.call('/run/stream', { body: { prompt: 'again' }, cookie })
      expect(response.status).toBe(200)
      await ndjsonEvents(response)
    }
    expect(a.sim.control.counters().refreshCalls - before).toBe(1)
    expect(a.sim.control.counters().reuseEvents).toBe(0)
  })
})
