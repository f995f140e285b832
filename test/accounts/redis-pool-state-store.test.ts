/**
 * RedisPoolStateStore against the real Redis at REDIS_URL (default redis://127.0.0.1:6379): the contract with two
 * store instances (and two connections) on one key prefix, then the key layout, damaged values, refused changes and
 * concurrent compare-and-set writers. Every test has its own prefix inside one run prefix; all are deleted after.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { createClient } from 'redis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  RedisPoolStateStore,
  type RedisPoolStateStoreOptions,
} from '../../src/accounts/redis-pool-state-store.js'
import { createLogger, isBrokerError } from '../../src/lib/index.js'
import { describePoolStateStore, increment, sampleHealth } from './pool-state-store-contract.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const runPrefix = `codex-broker-test:${randomBytes(6).toString('hex')}:`
const FLUSH_MS = 50

const client = createClient({ url })
client.on('error', () => undefined)
await client.connect()
// A second connection: the sibling stores talk to Redis as another instance would.
const otherClient = createClient({ url })
otherClient.on('error', () => undefined)
await otherClient.connect()

let prefixes = 0
function freshPrefix(): string {
  prefixes += 1
  return `${runPrefix}${prefixes}:`
}

afterAll(async () => {
  const keys: string[] = []
  for await (const batch of client.scanIterator({ MATCH: `${runPrefix}*`, COUNT: 500 })) {
    keys.push(...batch)
  }
  if (keys.length > 0) await client.del(keys)
  await Promise.all([client.close(), otherClient.close()])
})

function storeOn(
  keyPrefix: string,
  options: Partial<RedisPoolStateStoreOptions> = {},
): RedisPoolStateStore {
  return new RedisPoolStateStore({
    client,
    keyPrefix,
    flushDelayMs: FLUSH_MS,
    cacheMs: 0,
    ...options,
  })
}

describePoolStateStore('RedisPoolStateStore', (options = {}) => {
  const keyPrefix = freshPrefix()
  const extra = {
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.flushDelayMs === undefined ? {} : { flushDelayMs: options.flushDelayMs }),
  }
  return Promise.resolve({
    store: storeOn(keyPrefix, extra),
    sibling: () => storeOn(keyPrefix, { client: otherClient, ...extra }),
    flushDelayMs: options.flushDelayMs ?? FLUSH_MS,
  })
})

function capturingLogger() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'))
      callback()
    },
  })
  return { logger: createLogger({ level: 'warn', destination }), lines }
}

describe('RedisPoolStateStore', () => {
  it('keeps records as JSON in <prefix>pool:health and the pin in <prefix>pool:pinned', async () => {
    const keyPrefix = freshPrefix()
    const store = storeOn(keyPrefix)
    const record = sampleHealth('acc-1')
    await store.update('acc-1', () => record, { urgent: true })
    expect(store.healthKey).toBe(`${keyPrefix}pool:health`)
    const raw = await client.hGet(`${keyPrefix}pool:health`, 'acc-1')
    expect(JSON.parse(raw ?? 'null')).toEqual(record)
    await store.setPinned('acc-1')
    expect(await client.get(`${keyPrefix}pool:pinned`)).toBe('acc-1')
    await store.setPinned(null)
    expect(await client.exists(`${keyPrefix}pool:pinned`)).toBe(0)
    await store.forget('acc-1')
    expect(await client.hExists(`${keyPrefix}pool:health`, 'acc-1')).toBe(0)
    await store.close()
  })

  it('a non-urgent update reaches Redis only after the flush delay', async () => {
    const keyPrefix = freshPrefix()
    const store = storeOn(keyPrefix, { flushDelayMs: 300 })
    await store.update('acc-1', increment)
    await store.update('acc-1', increment)
    expect(await client.hGet(`${keyPrefix}pool:health`, 'acc-1')).toBeNull()
    await new Promise((resolve) => setTimeout(resolve, 700))
    const raw = await client.hGet(`${keyPrefix}pool:health`, 'acc-1')
    expect(JSON.parse(raw ?? 'null')).toMatchObject({ consecutiveFailures: 2 })
    await store.close()
  })

  it('answers reads from memory for cacheMs, then fetches again', async () => {
    const keyPrefix = freshPrefix()
    const reader = storeOn(keyPrefix, { cacheMs: 600 })
    expect((await reader.read()).size).toBe(0)
    await storeOn(keyPrefix).update('acc-1', increment, { urgent: true })
    expect((await reader.read()).size).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect((await reader.read()).get('acc-1')?.consecutiveFailures).toBe(1)
  })

  it('ignores a tampered value with one warning that does not quote it, and replaces it on the next write', async () => {
    const keyPrefix = freshPrefix()
    const key = `${keyPrefix}pool:health`
    const { logger, lines } = capturingLogger()
    const store = storeOn(keyPrefix, { logger })
    await store.update('acc-good', increment, { urgent: true })
    // Positive control: a good value is read without a warning.
    expect((await store.read()).size).toBe(1)
    expect(lines).toHaveLength(0)
    const tampered = JSON.stringify({
      ...sampleHealth('acc-bad'),
      cooldownUntil: -1,
      note: 'SECRET-LOOKING',
    })
    await client.hSet(key, 'acc-bad', tampered)
    await client.hSet(key, 'acc-junk', '{not json SECRET-LOOKING')
    const records = await store.read()
    expect([...records.keys()]).toEqual(['acc-good'])
    expect(lines).toHaveLength(2)
    expect(lines.join('')).not.toContain('SECRET-LOOKING')
    await store.read()
    expect(lines).toHaveLength(2)
    const next = await store.update('acc-bad', increment, { urgent: true })
    expect(next.consecutiveFailures).toBe(1)
    expect(next.cooldownUntil).toBeNull()
    expect(JSON.parse((await client.hGet(key, 'acc-bad')) ?? 'null')).toEqual(next)
    await store.close()
  })

  it('refuses a change that yields NaN or a negative time, and writes nothing', async () => {
    const keyPrefix = freshPrefix()
    const store = storeOn(keyPrefix)
    await store.update('acc-1', increment, { urgent: true })
    const before = await client.hGet(`${keyPrefix}pool:health`, 'acc-1')
    for (const bad of [{ cooldownUntil: Number.NaN }, { lastFailureAt: -1 }]) {
      const error = await store
        .update('acc-1', (h) => ({ ...h, ...bad }), { urgent: true })
        .catch((caught: unknown) => caught)
      expect(isBrokerError(error, 'ERR_INTERNAL'), String(error)).toBe(true)
      await expect(store.update('acc-1', (h) => ({ ...h, ...bad }))).rejects.toThrow(/invalid/)
    }
    await store.close()
    expect(await client.hGet(`${keyPrefix}pool:health`, 'acc-1')).toBe(before)
  })

  it('four instances on two connections × 25 urgent increments: exactly 100', async () => {
    const keyPrefix = freshPrefix()
    const stores = [
      storeOn(keyPrefix),
      storeOn(keyPrefix),
      storeOn(keyPrefix, { client: otherClient }),
      storeOn(keyPrefix, { client: otherClient }),
    ]
    await Promise.all(
      stores.map(async (store) => {
        for (let i = 0; i < 25; i++) await store.update('acc-1', increment, { urgent: true })
      }),
    )
    const raw = await client.hGet(`${keyPrefix}pool:health`, 'acc-1')
    expect(JSON.parse(raw ?? 'null')).toMatchObject({ consecutiveFailures: 100 })
    await Promise.all(stores.map((store) => store.close()))
  })
})
