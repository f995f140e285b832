/**
 * `RedisCredentialStore`: the `CredentialStore` contract in Redis, for web deployments with several instances
 * (DESIGN.md "Credentials at rest"). Layout under a key prefix (default `codex-broker:`):
 * `<prefix>account:<id>` holds one account as an AES-256-GCM envelope of its whole record (encryption is
 * required; the additional data binds it to the id, so values cannot be swapped between accounts),
 * `<prefix>accounts` is a sorted set of ids scored by `addedAt` (the listing order), and `<prefix>lock:<id>` is an
 * account's refresh lock.
 *
 * Writes are atomic Lua scripts. `update` is optimistic: read the value, apply the change, then a compare-and-set
 * script writes only if the value is still the one read (every write has a fresh IV, so equal bytes mean no one
 * wrote in between) and otherwise retries — so concurrent updates never lose each other (no WATCH, which a shared
 * node-redis connection cannot isolate). The lock is `SET <key> <random token> NX PX <ttl>`, retried with jittered
 * backoff until the timeout (`ERR_LOCK_TIMEOUT`), renewed by a compare-and-`PEXPIRE` every third of the TTL while
 * the task runs (so a slow refresh keeps it, and a crashed instance's lock expires), and released by a Lua
 * compare-and-delete, so a holder whose lock expired never deletes its successor's. An in-process queue per
 * account keeps one instance's own callers from spinning on Redis.
 *
 * The store speaks to Redis through `sendCommand`, so any connected node-redis client works; given a `url`
 * instead, it loads `redis` on demand, connects, and `close()` disconnects it.
 */
import { randomBytes } from 'node:crypto'
import { BrokerError, type Clock, systemClock } from '../lib/index.js'
import { assertSameAccount, encodeAccount, parseAccountRecord, recordAad } from './account-codec.js'
import type { AccountLockOptions, CredentialStore, StoredAccount } from './credential-store.js'
import { type EncryptionKey, decryptJson, encryptJson } from './encryption.js'
import { DEFAULT_LOCK_TIMEOUT_MS } from './file-lock.js'
import { KeyedMutex } from './keyed-mutex.js'
import { accountLockDescription, accountNotFound, inProcessLockTimeout } from './store-errors.js'

/** The default key prefix. */
export const DEFAULT_REDIS_KEY_PREFIX = 'codex-broker:'

/** The default lifetime of a Redis account lock (30 s, renewed while held). */
export const DEFAULT_REDIS_LOCK_TTL_MS = 30_000

const MAX_UPDATE_ATTEMPTS = 100

const PUT_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1`

const COMPARE_AND_SET_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`

const REMOVE_SCRIPT = `
local removed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return removed`

const COMPARE_AND_DELETE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

const COMPARE_AND_EXPIRE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

/**
 * What the store needs of a Redis connection: node-redis's `sendCommand` (a connected `createClient()` result
 * fits).
 */
export interface RedisCommandSender {
  sendCommand(args: readonly string[]): Promise<unknown>
}

/** Options shared by both ways of connecting. */
interface RedisCredentialStoreCommonOptions {
  /** Prefix of every key; default {@link DEFAULT_REDIS_KEY_PREFIX}. */
  readonly keyPrefix?: string
  /** The key every value is encrypted with (required: Redis is shared infrastructure). */
  readonly encryption: EncryptionKey
  /** Lifetime of an account lock, renewed while held; default 30 s. */
  readonly lockTtlMs?: number
  /** Default wait of `withAccountLock`; default 30 s. */
  readonly lockTimeoutMs?: number
  /** Time for lock waits and renewals; default the system clock. */
  readonly clock?: Clock
}

/** Options of {@link RedisCredentialStore}: a connected client, or a URL to connect to. */
export type RedisCredentialStoreOptions = RedisCredentialStoreCommonOptions &
  (
    | { readonly client: RedisCommandSender; readonly url?: undefined }
    | { readonly url: string; readonly client?: undefined }
  )

interface OwnedClient extends RedisCommandSender {
  close(): Promise<void>
}

function unexpectedReply(command: string, cause?: unknown): BrokerError {
  return new BrokerError('ERR_INTERNAL', `Redis gave an unexpected reply to ${command}.`, { cause })
}

function asText(reply: unknown, command: string): string | null {
  if (reply === null || reply === undefined) return null
  if (typeof reply === 'string') return reply
  if (Buffer.isBuffer(reply)) return reply.toString('utf8')
  throw unexpectedReply(command)
}

function asNumber(reply: unknown, command: string): number {
  if (typeof reply === 'number') return reply
  if (typeof reply === 'string' && /^-?\d+$/.test(reply)) return Number(reply)
  throw unexpectedReply(command)
}

function asList(reply: unknown, command: string): unknown[] {
  if (Array.isArray(reply)) return reply as unknown[]
  throw unexpectedReply(command)
}

/**
 * Accounts in Redis.
 *
 * @example
 * const store = new RedisCredentialStore({ url: 'redis://127.0.0.1:6379', encryption: key })
 * try { await store.list() } finally { await store.close() }
 */
export class RedisCredentialStore implements CredentialStore {
  /** The key prefix in use. */
  readonly keyPrefix: string

  readonly #encryption: EncryptionKey
  readonly #lockTtlMs: number
  readonly #lockTimeoutMs: number
  readonly #clock: Clock
  readonly #mutex: KeyedMutex
  readonly #url: string | undefined
  #client: Promise<RedisCommandSender> | undefined
  #owned: Promise<OwnedClient> | undefined

  constructor(options: RedisCredentialStoreOptions) {
    if ((options.encryption as EncryptionKey | undefined) === undefined) {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        'RedisCredentialStore needs an encryption key: credentials in Redis are always encrypted.',
        { hint: 'Pass `encryption` (see resolveEncryptionKey or CODEX_BROKER_KEY).' },
      )
    }
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX
    this.#encryption = options.encryption
    this.#lockTtlMs = options.lockTtlMs ?? DEFAULT_REDIS_LOCK_TTL_MS
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
    this.#clock = options.clock ?? systemClock
    this.#mutex = new KeyedMutex(this.#clock)
    this.#url = options.url
    if (options.client !== undefined) this.#client = Promise.resolve(options.client)
  }

  /** The key of an account's record. */
  accountKey(id: string): string {
    return `${this.keyPrefix}account:${id}`
  }

  /** The key of an account's refresh lock. */
  lockKey(id: string): string {
    return `${this.keyPrefix}lock:${id}`
  }

  /** The key of the ordered index of account ids. */
  get indexKey(): string {
    return `${this.keyPrefix}accounts`
  }

  /** @inheritDoc */
  async list(): Promise<StoredAccount[]> {
    const ids = asList(await this.#send(['ZRANGE', this.indexKey, '0', '-1']), 'ZRANGE')
      .map((id) => asText(id, 'ZRANGE'))
      .filter((id): id is string => id !== null)
    if (ids.length === 0) return []
    const values = asList(
      await this.#send(['MGET', ...ids.map((id) => this.accountKey(id))]),
      'MGET',
    )
    const accounts: StoredAccount[] = []
    ids.forEach((id, index) => {
      const value = asText(values[index], 'MGET')
      if (value !== null) accounts.push(this.#decode(id, value))
    })
    return accounts
  }

  /** @inheritDoc */
  async get(id: string): Promise<StoredAccount | null> {
    const value = await this.#getRaw(id)
    return value === null ? null : this.#decode(id, value)
  }

  /** @inheritDoc */
  async put(account: StoredAccount): Promise<void> {
    await this.#eval(
      PUT_SCRIPT,
      [this.accountKey(account.id), this.indexKey],
      [this.#encode(account), String(account.addedAt), account.id],
    )
  }

  /** @inheritDoc */
  async update(
    id: string,
    change: (current: StoredAccount) => StoredAccount,
  ): Promise<StoredAccount> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const value = await this.#getRaw(id)
      if (value === null) throw accountNotFound(id)
      const next = assertSameAccount(id, change(this.#decode(id, value)))
      const written = await this.#eval(
        COMPARE_AND_SET_SCRIPT,
        [this.accountKey(id)],
        [value, this.#encode(next)],
      )
      if (asNumber(written, 'EVAL') === 1) return next
      await this.#clock.sleep(Math.random() * Math.min(50, 2 + attempt * 2))
    }
    throw new BrokerError(
      'ERR_LOCK_TIMEOUT',
      `Gave up updating account ${id} after ${MAX_UPDATE_ATTEMPTS} attempts: other writers kept changing it.`,
      { hint: 'Try again.' },
    )
  }

  /** @inheritDoc */
  async remove(id: string): Promise<boolean> {
    const removed = await this.#eval(REMOVE_SCRIPT, [this.accountKey(id), this.indexKey], [id])
    return asNumber(removed, 'EVAL') > 0
  }

  /** @inheritDoc */
  async withAccountLock<T>(
    id: string,
    task: () => Promise<T>,
    options: AccountLockOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#lockTimeoutMs
    const deadline = this.#clock.now() + timeoutMs
    const description = accountLockDescription(id)
    return this.#mutex.run(
      id,
      async () => {
        const key = this.lockKey(id)
        const token = await this.#acquire(key, deadline, timeoutMs, description)
        const renewal = new AbortController()
        this.#renew(key, token, renewal.signal)
        try {
          return await task()
        } finally {
          renewal.abort()
          await this.#eval(COMPARE_AND_DELETE_SCRIPT, [key], [token])
        }
      },
      { timeoutMs, onTimeout: () => inProcessLockTimeout(description, timeoutMs) },
    )
  }

  /** Disconnects the client this store created from `url` (a client passed in is left open). */
  async close(): Promise<void> {
    const owned = this.#owned
    this.#owned = undefined
    this.#client = undefined
    if (owned !== undefined) await (await owned).close()
  }

  async #acquire(
    key: string,
    deadline: number,
    timeoutMs: number,
    description: string,
  ): Promise<string> {
    const token = randomBytes(16).toString('hex')
    for (let attempt = 0; ; attempt++) {
      const reply = await this.#send(['SET', key, token, 'NX', 'PX', String(this.#lockTtlMs)])
      if (asText(reply, 'SET') === 'OK') return token
      const remaining = deadline - this.#clock.now()
      if (remaining <= 0) {
        const hint =
          'Another instance is refreshing this account; try again. A crashed holder’s lock expires by itself.'
        throw new BrokerError(
          'ERR_LOCK_TIMEOUT',
          `Timed out after ${timeoutMs} ms waiting for ${description} (Redis key ${key}). ${hint}`,
          { hint },
        )
      }
      const ceiling = Math.min(100, 4 * 2 ** attempt)
      await this.#clock.sleep(Math.min(remaining, ceiling / 2 + (Math.random() * ceiling) / 2))
    }
  }

  #renew(key: string, token: string, signal: AbortSignal): void {
    const every = Math.max(1, Math.floor(this.#lockTtlMs / 3))
    void (async () => {
      while (!signal.aborted) {
        await this.#clock.sleep(every, signal)
        const extended = await this.#eval(
          COMPARE_AND_EXPIRE_SCRIPT,
          [key],
          [token, String(this.#lockTtlMs)],
        )
        if (asNumber(extended, 'EVAL') === 0) return
      }
    })().catch(() => undefined)
  }

  async #getRaw(id: string): Promise<string | null> {
    return asText(await this.#send(['GET', this.accountKey(id)]), 'GET')
  }

  #encode(account: StoredAccount): string {
    return JSON.stringify(
      encryptJson(this.#encryption, encodeAccount(account), recordAad(account.id)),
    )
  }

  #decode(id: string, value: string): StoredAccount {
    const where = `Redis key ${this.accountKey(id)}`
    const context = { where, removal: `delete ${where}` }
    let envelope: unknown
    try {
      envelope = JSON.parse(value) as unknown
    } catch {
      envelope = null
    }
    return parseAccountRecord(
      decryptJson(this.#encryption, envelope, recordAad(id), context),
      id,
      where,
    )
  }

  async #eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#send(['EVAL', script, String(keys.length), ...keys, ...args])
  }

  async #send(args: readonly string[]): Promise<unknown> {
    return (await this.#connection()).sendCommand(args)
  }

  #connection(): Promise<RedisCommandSender> {
    if (this.#client !== undefined) return this.#client
    const url = this.#url
    if (url === undefined) {
      return Promise.reject(
        new BrokerError('ERR_INVALID_CONFIG', 'This RedisCredentialStore was closed.'),
      )
    }
    const owned = (async (): Promise<OwnedClient> => {
      const { createClient } = await import('redis')
      const client = createClient({ url })
      // Without a listener, a connection error would crash the process; commands still reject with it.
      client.on('error', () => undefined)
      await client.connect()
      return client
    })()
    this.#owned = owned
    this.#client = owned
    owned.catch(() => {
      if (this.#owned === owned) {
        this.#owned = undefined
        this.#client = undefined
      }
    })
    return owned
  }
}
