/**
 * RedisCredentialStore against the real Redis at REDIS_URL (default redis://127.0.0.1:6379; CI starts one). Every
 * test works under its own key prefix inside one unique run prefix, and every key of the run is deleted after.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { createClient } from 'redis'
import { afterAll, describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { EncryptionKey, RedisCredentialStore } from '../../src/store/index.js'
import { describeCredentialStore } from './credential-store-contract.js'
import { apiKeyAccount, chatgptAccount, plain, rejectionOf, secretsOf } from './fixtures.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const runPrefix = `codex-broker-test:${randomBytes(6).toString('hex')}:`
const client = createClient({ url })
client.on('error', () => undefined)
await client.connect()

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
  await client.close()
})

function open(encryption = EncryptionKey.generate(), keyPrefix = freshPrefix()) {
  const make = () => new RedisCredentialStore({ client, keyPrefix, encryption })
  return { store: make(), sibling: make, keyPrefix, encryption }
}

describeCredentialStore('RedisCredentialStore', () => Promise.resolve(open()))

function expectCode(error: unknown, code: Parameters<typeof isBrokerError>[1]): void {
  expect(isBrokerError(error, code), String(error)).toBe(true)
}

describe('RedisCredentialStore', () => {
  it('stores one encrypted value per account and an ordered index; no token is readable in Redis', async () => {
    const { store, keyPrefix } = open()
    const accounts = [chatgptAccount(), apiKeyAccount()]
    for (const account of accounts) await store.put(account)
    expect(await client.zRange(`${keyPrefix}accounts`, 0, -1)).toEqual(accounts.map((a) => a.id))
    for (const account of accounts) {
      const raw = await client.get(`${keyPrefix}account:${account.id}`)
      expect(raw).not.toBeNull()
      expect(raw).toContain('"alg":"A256GCM"')
      for (const secret of secretsOf(account)) expect(raw).not.toContain(secret)
      expect(raw).not.toContain(account.email ?? 'no-email-to-check')
    }
  })

  it('requires an encryption key', () => {
    const options = { client, keyPrefix: freshPrefix() } as unknown as ConstructorParameters<
      typeof RedisCredentialStore
    >[0]
    let error: unknown
    try {
      new RedisCredentialStore(options)
    } catch (caught) {
      error = caught
    }
    expectCode(error, 'ERR_INVALID_CONFIG')
  })

  it('a wrong key gives ERR_WRONG_KEY and changes nothing', async () => {
    const { store, keyPrefix } = open()
    const account = chatgptAccount()
    await store.put(account)
    const raw = await client.get(`${keyPrefix}account:${account.id}`)
    const wrong = new RedisCredentialStore({
      client,
      keyPrefix,
      encryption: EncryptionKey.generate(),
    })
    const error = await rejectionOf(wrong.get(account.id))
    expectCode(error, 'ERR_WRONG_KEY')
    expect((error as Error).message).toContain('CODEX_BROKER_KEY')
    expectCode(await rejectionOf(wrong.update(account.id, (a) => a)), 'ERR_WRONG_KEY')
    expectCode(await rejectionOf(wrong.list()), 'ERR_WRONG_KEY')
    expect(await client.get(`${keyPrefix}account:${account.id}`)).toBe(raw)
  })

  it('a value copied onto another account fails authentication', async () => {
    const { store, keyPrefix } = open()
    const [a, b] = [chatgptAccount(), chatgptAccount()]
    await store.put(a)
    await store.put(b)
    const rawA = await client.get(`${keyPrefix}account:${a.id}`)
    if (rawA === null) throw new Error('missing')
    await client.set(`${keyPrefix}account:${b.id}`, rawA)
    expectCode(await rejectionOf(store.get(b.id)), 'ERR_CORRUPT_STORE')
    expect(plain(await store.get(a.id))).toEqual(plain(a))
  })

  it('connects from a URL and close() disconnects the client it made', async () => {
    const encryption = EncryptionKey.generate()
    const keyPrefix = freshPrefix()
    const store = new RedisCredentialStore({ url, keyPrefix, encryption })
    const account = chatgptAccount()
    await store.put(account)
    expect(
      plain(await new RedisCredentialStore({ client, keyPrefix, encryption }).get(account.id)),
    ).toEqual(plain(account))
    await store.close()
    await store.close()
  })

  describe('the account lock', () => {
    it('is SET NX PX with a random token while held, and deleted after', async () => {
      const { store, keyPrefix } = open()
      const lockKey = `${keyPrefix}lock:acc-1`
      await store.withAccountLock('acc-1', async () => {
        const token = await client.get(lockKey)
        expect(token).toMatch(/^[0-9a-f]{32}$/)
        const ttl = await client.pTTL(lockKey)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(30_000)
      })
      expect(await client.exists(lockKey)).toBe(0)
    })

    it('another instance waits, then times out with ERR_LOCK_TIMEOUT', async () => {
      const { store, sibling, keyPrefix } = open()
      let release: () => void = () => undefined
      let entered: () => void = () => undefined
      const inside = new Promise<void>((resolve) => (entered = resolve))
      const held = store.withAccountLock('acc-1', () => {
        entered()
        return new Promise<void>((resolve) => (release = resolve))
      })
      await inside
      const started = Date.now()
      const error = await rejectionOf(
        sibling().withAccountLock('acc-1', () => Promise.resolve(), { timeoutMs: 150 }),
      )
      expectCode(error, 'ERR_LOCK_TIMEOUT')
      expect((error as Error).message).toContain(`${keyPrefix}lock:acc-1`)
      expect(Date.now() - started).toBeLessThan(1_500)
      release()
      await held
    })

    it('compare-and-delete: a holder whose lock was replaced does not delete the new one', async () => {
      const { store, keyPrefix } = open()
      const lockKey = `${keyPrefix}lock:acc-1`
      await store.withAccountLock('acc-1', async () => {
        await client.set(lockKey, 'successor-token', { PX: 10_000 })
      })
      expect(await client.get(lockKey)).toBe('successor-token')
    })

    it('a crashed holder’s lock expires and is then taken', async () => {
      const { store, keyPrefix } = open()
      await client.set(`${keyPrefix}lock:acc-1`, 'crashed-holder', { PX: 200 })
      const started = Date.now()
      expect(
        await store.withAccountLock('acc-1', () => Promise.resolve('ran'), { timeoutMs: 3_000 }),
      ).toBe('ran')
      expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    })

    it('is renewed while a slow task runs', async () => {
      const encryption = EncryptionKey.generate()
      const keyPrefix = freshPrefix()
      const make = () => new RedisCredentialStore({ client, keyPrefix, encryption, lockTtlMs: 300 })
      const lockKey = `${keyPrefix}lock:acc-1`
      await make().withAccountLock('acc-1', async () => {
        await delay(800)
        expect(await client.pTTL(lockKey)).toBeGreaterThan(0)
        expectCode(
          await rejectionOf(
            make().withAccountLock('acc-1', () => Promise.resolve(), { timeoutMs: 50 }),
          ),
          'ERR_LOCK_TIMEOUT',
        )
      })
      expect(await client.exists(lockKey)).toBe(0)
    })
  })
})
