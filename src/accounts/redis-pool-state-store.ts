/**
 * `RedisPoolStateStore`: the pool's health records in Redis, shared by every instance of a web deployment
 * (DESIGN.md "The account pool"). Layout under the key prefix (default `codex-broker:`, as the credential store):
 * the hash `<prefix>pool:health` (field: account id, value: the record as JSON — no secret, so not encrypted) and
 * the string `<prefix>pool:pinned` (absent when nothing is pinned).
 *
 * Each record is changed by an optimistic read-modify-write: `HGET`, apply the change, then a Lua compare-and-set
 * writes only if the field still holds the bytes read (or is still absent), else it retries with a little jitter.
 * Like the credential store this avoids WATCH/MULTI, which a shared node-redis connection cannot isolate. Equal
 * bytes mean an equal record, so an A-B-A in between loses nothing.
 *
 * Quota readings arrive with every answer, so non-urgent updates are applied to this instance's view at once and
 * queued; one flush `flushDelayMs` later replays them per account in a compare-and-set each. An urgent update
 * (cooldowns, circuit changes) flushes the queue first and resolves after its own write. Reads answer from memory
 * while the view is younger than `cacheMs`, then fetch the hash again; queued changes are replayed on top, so this
 * instance keeps seeing its own. Change functions may run more than once and must be pure. A stored value that is
 * not a valid record (tampered, from a future version) is ignored with a warning and replaced on the next write.
 */
import { BrokerError } from '../lib/errors.js'
import type { Logger } from '../lib/logger.js'
import type { RedisCommandSender } from '../store/redis-credential-store.js'
import { DEFAULT_REDIS_KEY_PREFIX } from '../store/redis-credential-store.js'
import {
  DEFAULT_POOL_CACHE_MS,
  DEFAULT_POOL_FLUSH_DELAY_MS,
  MAX_PENDING_CHANGES,
  checkedHealth,
  parseAccountHealth,
} from './file-pool-state-store.js'
import { emptyHealth } from './health.js'
import type { AccountHealth, PoolStateStore } from './types.js'

/** Compare-and-set attempts of one record before giving up. */
const MAX_UPDATE_ATTEMPTS = 100

/** KEYS[1] hash; ARGV: field, '1' when a value was read ('0' when absent), the value read, the new value. */
const COMPARE_AND_SET_FIELD_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1`

/** Options of {@link RedisPoolStateStore}. */
export interface RedisPoolStateStoreOptions {
  /** A connected client (node-redis's `createClient()` fits); left open by `close()`. */
  readonly client: RedisCommandSender
  /** Prefix of every key; default `codex-broker:`. */
  readonly keyPrefix?: string
  /** The `updatedAt` of fresh records; default `Date.now`. */
  readonly now?: () => number
  /** How long reads answer from memory; default 250 ms. */
  readonly cacheMs?: number
  /** How long non-urgent updates are batched; default 1 s. */
  readonly flushDelayMs?: number
  /** Where warnings about invalid values or a failed flush go; default nowhere. */
  readonly logger?: Pick<Logger, 'warn'>
}

interface PendingChange {
  readonly accountId: string
  readonly change: (current: AccountHealth) => AccountHealth
}

type Change = (current: AccountHealth) => AccountHealth

function unexpectedReply(command: string): BrokerError {
  return new BrokerError('ERR_INTERNAL', `Redis gave an unexpected reply to ${command}.`)
}

function asText(reply: unknown, command: string): string | null {
  if (reply === null || reply === undefined) return null
  if (typeof reply === 'string') return reply
  if (Buffer.isBuffer(reply)) return reply.toString('utf8')
  throw unexpectedReply(command)
}

/** HGETALL's reply as pairs: a flat array under RESP2, a map under RESP3. */
function asPairs(reply: unknown): [string, string][] {
  let entries: [unknown, unknown][]
  if (Array.isArray(reply)) {
    const flat = reply as unknown[]
    entries = []
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i], flat[i + 1]])
  } else if (reply instanceof Map) {
    entries = [...(reply as Map<unknown, unknown>).entries()]
  } else if (typeof reply === 'object' && reply !== null) {
    entries = Object.entries(reply)
  } else {
    throw unexpectedReply('HGETALL')
  }
  return entries.map(([field, value]) => [
    asText(field, 'HGETALL') ?? '',
    asText(value, 'HGETALL') ?? '',
  ])
}

function monotonicNow(): number {
  return performance.now()
}

/**
 * Pool health in Redis, shared between instances.
 *
 * @example
 * const state = new RedisPoolStateStore({ client: redis, keyPrefix: 'myapp:' })
 * await state.update(id, (h) => ({ ...h, cooldownUntil: resetsAt }), { urgent: true })
 * await state.close()
 */
export class RedisPoolStateStore implements PoolStateStore {
  /** The key prefix in use. */
  readonly keyPrefix: string

  readonly #client: RedisCommandSender
  readonly #now: () => number
  readonly #cacheMs: number
  readonly #flushDelayMs: number
  readonly #logger: Pick<Logger, 'warn'> | undefined
  /** The records as last fetched, patched with this instance's writes. */
  #base = new Map<string, AccountHealth>()
  #pinned: string | null = null
  #loaded = false
  #checkedAt = -Infinity
  #generation = 0
  #refreshing: Promise<void> | undefined
  #view = new Map<string, AccountHealth>()
  #pending: PendingChange[] = []
  #flushing: readonly PendingChange[] = []
  #timer: NodeJS.Timeout | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  /** Values already warned about (field → raw value), so one bad value is reported once. */
  readonly #warned = new Map<string, string>()

  constructor(options: RedisPoolStateStoreOptions) {
    this.#client = options.client
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX
    this.#now = options.now ?? Date.now
    this.#cacheMs = options.cacheMs ?? DEFAULT_POOL_CACHE_MS
    this.#flushDelayMs = options.flushDelayMs ?? DEFAULT_POOL_FLUSH_DELAY_MS
    this.#logger = options.logger
  }

  /** The hash of every account's record. */
  get healthKey(): string {
    return `${this.keyPrefix}pool:health`
  }

  /** The pinned account's key. */
  get pinnedKey(): string {
    return `${this.keyPrefix}pool:pinned`
  }

  /** @inheritDoc */
  async read(): Promise<ReadonlyMap<string, AccountHealth>> {
    await this.#refresh()
    return new Map(this.#view)
  }

  /** @inheritDoc */
  async update(
    accountId: string,
    change: Change,
    options: { readonly urgent?: boolean } = {},
  ): Promise<AccountHealth> {
    if (options.urgent === true || this.#closed) {
      return this.#serial(async () => {
        await this.#flushQueued()
        const next = await this.#compareAndSet(accountId, [change], true)
        this.#rebuildView()
        return next
      })
    }
    await this.#refresh()
    const next = this.#apply(this.#view, accountId, change)
    if (this.#pending.length >= MAX_PENDING_CHANGES) this.#pending.shift()
    this.#pending.push({ accountId, change })
    this.#timer ??= this.#arm()
    return next
  }

  /** @inheritDoc */
  async pinned(): Promise<string | null> {
    await this.#refresh()
    return this.#pinned
  }

  /** @inheritDoc */
  async setPinned(accountId: string | null): Promise<void> {
    await this.#serial(async () => {
      await this.#send(
        accountId === null ? ['DEL', this.pinnedKey] : ['SET', this.pinnedKey, accountId],
      )
      this.#generation += 1
      this.#pinned = accountId
    })
  }

  /** @inheritDoc */
  async forget(accountId: string): Promise<void> {
    // Changes queued before the removal would bring the record back.
    this.#pending = this.#pending.filter((entry) => entry.accountId !== accountId)
    await this.#serial(async () => {
      await this.#flushQueued()
      await this.#send(['HDEL', this.healthKey, accountId])
      this.#generation += 1
      this.#base.delete(accountId)
      this.#rebuildView()
    })
  }

  /** Writes the queued changes now (what the timer does). */
  async flush(): Promise<void> {
    await this.#serial(() => this.#flushQueued())
  }

  /** Writes anything queued and stops the timer; the client stays open (it was passed in). */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.flush()
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task)
    this.#tail = run.catch(() => undefined)
    return run
  }

  #arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timer = undefined
      this.flush().catch((error: unknown) => {
        this.#logger?.warn(
          { err: error, key: this.healthKey, queued: this.#pending.length },
          'Could not write the pool health to Redis; the queued changes are kept for the next write.',
        )
      })
    }, this.#flushDelayMs)
    // Batched health is not worth keeping a process alive for; close() writes it.
    timer.unref()
    return timer
  }

  /** Replays the queue, one compare-and-set per account; on failure the unwritten rest goes back in front. */
  async #flushQueued(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    this.#flushing = batch
    const byAccount = new Map<string, Change[]>()
    for (const { accountId, change } of batch) {
      const list = byAccount.get(accountId)
      if (list === undefined) byAccount.set(accountId, [change])
      else list.push(change)
    }
    const written = new Set<string>()
    try {
      for (const [accountId, changes] of byAccount) {
        await this.#compareAndSet(accountId, changes, false)
        written.add(accountId)
      }
    } catch (error) {
      const rest = batch.filter((entry) => !written.has(entry.accountId))
      this.#pending = [...rest, ...this.#pending].slice(-MAX_PENDING_CHANGES)
      throw error
    } finally {
      this.#flushing = []
      this.#rebuildView()
      if (this.#pending.length > 0 && !this.#closed) this.#timer ??= this.#arm()
    }
  }

  /**
   * Applies `changes` in order to the stored record atomically. With `strict`, a change that throws rejects the
   * whole call (an urgent caller's own change); otherwise it is skipped with a warning (a queued one).
   */
  async #compareAndSet(
    accountId: string,
    changes: readonly Change[],
    strict: boolean,
  ): Promise<AccountHealth> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const raw = asText(await this.#send(['HGET', this.healthKey, accountId]), 'HGET')
      let record = this.#decode(accountId, raw) ?? emptyHealth(accountId, this.#now())
      for (const change of changes) {
        try {
          record = checkedHealth(accountId, change(record))
        } catch (error) {
          if (strict) throw error
          this.#logger?.warn(
            { err: error, accountId },
            'A queued pool health change failed on the current record and was skipped.',
          )
        }
      }
      const reply = await this.#send([
        'EVAL',
        COMPARE_AND_SET_FIELD_SCRIPT,
        '1',
        this.healthKey,
        accountId,
        raw === null ? '0' : '1',
        raw ?? '',
        JSON.stringify(record),
      ])
      if (reply === 1 || reply === '1') {
        this.#generation += 1
        this.#base.set(accountId, record)
        return record
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 + attempt)))
    }
    throw new BrokerError(
      'ERR_LOCK_TIMEOUT',
      `Gave up updating the pool health of account ${accountId} after ${MAX_UPDATE_ATTEMPTS} attempts: other writers kept changing it.`,
      { hint: 'Try again.' },
    )
  }

  #apply(accounts: Map<string, AccountHealth>, accountId: string, change: Change): AccountHealth {
    const current = accounts.get(accountId) ?? emptyHealth(accountId, this.#now())
    const next = checkedHealth(accountId, change(current))
    accounts.set(accountId, next)
    return next
  }

  #rebuildView(): void {
    const view = new Map(this.#base)
    for (const { accountId, change } of [...this.#flushing, ...this.#pending]) {
      try {
        this.#apply(view, accountId, change)
      } catch {
        // Reported when the flush meets it; the view just goes without it.
      }
    }
    this.#view = view
  }

  async #refresh(): Promise<void> {
    if (this.#loaded && monotonicNow() - this.#checkedAt < this.#cacheMs) return
    this.#refreshing ??= (async () => {
      const generation = this.#generation
      const [hash, pinned] = await Promise.all([
        this.#send(['HGETALL', this.healthKey]),
        this.#send(['GET', this.pinnedKey]),
      ])
      const base = new Map<string, AccountHealth>()
      for (const [field, value] of asPairs(hash)) {
        const record = this.#decode(field, value)
        if (record !== null) base.set(field, record)
      }
      const pinnedId = asText(pinned, 'GET')
      // A write that landed meanwhile is newer than what this read saw.
      if (generation !== this.#generation) return
      this.#base = base
      this.#pinned = pinnedId
      this.#loaded = true
      this.#checkedAt = monotonicNow()
      this.#rebuildView()
    })().finally(() => {
      this.#refreshing = undefined
    })
    await this.#refreshing
  }

  /** A stored value as a record; null when absent or invalid (warned once per value, never quoting it). */
  #decode(accountId: string, raw: string | null): AccountHealth | null {
    if (raw === null) return null
    let json: unknown
    try {
      json = JSON.parse(raw) as unknown
    } catch {
      json = undefined
    }
    const record = parseAccountHealth(accountId, json)
    if (record === null && this.#warned.get(accountId) !== raw) {
      this.#warned.set(accountId, raw)
      this.#logger?.warn(
        { key: this.healthKey, accountId },
        `Ignoring the invalid pool health of account ${accountId} in Redis; the next write replaces it.`,
      )
    }
    return record
  }

  async #send(args: readonly string[]): Promise<unknown> {
    return this.#client.sendCommand(args)
  }
}
