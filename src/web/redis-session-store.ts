/**
 * Sessions in Redis, for several instances of the handler behind a load balancer. Each value is the session's
 * JSON encrypted with AES-256-GCM (the pending device authorization id is in it, and Redis is shared
 * infrastructure), bound to its key as additional data so a record copied under another key does not open. The
 * expiry is Redis's own (`PX`); the run slot is `SET NX PX` with a random owner, released by compare-and-delete.
 */
import { randomBytes } from 'node:crypto'
import {
  decryptJson,
  encryptJson,
  type EncryptionKey,
  type RedisCommandSender,
} from '../store/index.js'
import { decodeWebSession, encodeWebSession, type WebSession } from './web-session.js'
import type { SessionStore } from './session-store.js'

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** A connected node-redis client (anything with `sendCommand`). */
  readonly client: RedisCommandSender
  /** The key each value is encrypted with. */
  readonly encryption: EncryptionKey
  /** Prefix of every key (default `codex-broker:web:`). */
  readonly keyPrefix?: string
}

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * The Redis store.
 * @example
 * const client = await createClient({ url: redisUrl }).connect()
 * const sessionStore = new RedisSessionStore({ client, encryption: EncryptionKey.parse(key, 'SESSION_KEY') })
 */
export class RedisSessionStore implements SessionStore {
  readonly #client: RedisCommandSender
  readonly #key: EncryptionKey
  readonly #prefix: string

  constructor(options: RedisSessionStoreOptions) {
    this.#client = options.client
    this.#key = options.encryption
    this.#prefix = options.keyPrefix ?? 'codex-broker:web:'
  }

  async get(key: string): Promise<WebSession | null> {
    const reply = await this.#client.sendCommand(['GET', this.#sessionKey(key)])
    if (typeof reply !== 'string' && !Buffer.isBuffer(reply)) return null
    try {
      const envelope: unknown = JSON.parse(String(reply))
      const text = decryptJson(this.#key, envelope, this.#aad(key), {
        where: `Redis key ${this.#sessionKey(key)}`,
        removal: 'delete the key',
      })
      return typeof text === 'string' ? decodeWebSession(text) : null
    } catch {
      // A record written with another key, or damaged: no session (the browser signs in again).
      return null
    }
  }

  async set(key: string, session: WebSession, ttlMs: number): Promise<void> {
    const envelope = encryptJson(this.#key, encodeWebSession(session), this.#aad(key))
    await this.#client.sendCommand([
      'SET',
      this.#sessionKey(key),
      JSON.stringify(envelope),
      'PX',
      String(Math.max(1, Math.ceil(ttlMs))),
    ])
  }

  async delete(key: string): Promise<void> {
    await this.#client.sendCommand(['DEL', this.#sessionKey(key), this.#runKey(key)])
  }

  async acquireRunSlot(key: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const owner = randomBytes(16).toString('base64url')
    const runKey = this.#runKey(key)
    const reply = await this.#client.sendCommand([
      'SET',
      runKey,
      owner,
      'NX',
      'PX',
      String(Math.max(1, Math.ceil(ttlMs))),
    ])
    if (reply !== 'OK') return null
    return async () => {
      await this.#client.sendCommand(['EVAL', RELEASE_SCRIPT, '1', runKey, owner])
    }
  }

  #sessionKey(key: string): string {
    return `${this.#prefix}session:${key}`
  }

  #runKey(key: string): string {
    return `${this.#prefix}run:${key}`
  }

  #aad(key: string): string {
    return `web-session:${key}`
  }
}
