import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  EncryptionKey,
  type KeychainEntry,
  type KeychainModule,
  resolveEncryptionKey,
} from '../../src/store/index.js'
import { makeTempDir, modeOf, rejectionOf } from './fixtures.js'

/** An in-memory keychain with the `@napi-rs/keyring` AsyncEntry shape, recording how entries were made. */
function fakeKeychain(behaviour: { failGet?: boolean; failSet?: boolean; hang?: boolean } = {}) {
  const entries = new Map<string, string>()
  const made: { service: string; account: string; options: unknown }[] = []
  const module: KeychainModule = {
    AsyncEntry: class implements KeychainEntry {
      readonly #name: string
      constructor(service: string, account: string, options?: unknown) {
        made.push({ service, account, options })
        this.#name = `${service}/${account}`
      }
      getPassword(): Promise<string | null> {
        if (behaviour.hang === true) return new Promise(() => undefined)
        if (behaviour.failGet === true) return Promise.reject(new Error('no D-Bus session'))
        return Promise.resolve(entries.get(this.#name) ?? null)
      }
      setPassword(password: string): Promise<void> {
        if (behaviour.failSet === true) return Promise.reject(new Error('keychain locked'))
        entries.set(this.#name, password)
        return Promise.resolve()
      }
    },
  }
  return { module, entries, made }
}

async function home(): Promise<string> {
  return join(await makeTempDir(), 'home')
}

describe('resolveEncryptionKey', () => {
  it('creates the key in the keychain when it works (service codex-broker, account = home), then finds it', async () => {
    const dir = await home()
    const keychain = fakeKeychain()
    const first = await resolveEncryptionKey({
      home: dir,
      keychain: keychain.module,
      platform: 'linux',
    })
    expect(first).toMatchObject({ source: 'keychain', created: true, envKeyIgnored: false })
    expect(first.location).toBe(`keychain codex-broker/${dir}`)
    expect(keychain.made[0]).toEqual({
      service: 'codex-broker',
      account: dir,
      options: { linux: { store: 'secret-service' } },
    })
    const again = await resolveEncryptionKey({ home: dir, keychain: keychain.module })
    expect(again).toMatchObject({ source: 'keychain', created: false })
    expect(again.key.equals(first.key)).toBe(true)
    await expect(readFile(join(dir, 'key'))).rejects.toThrow()
  })

  it('falls back to a 0600 key file when the keychain module cannot load, and reuses it', async () => {
    const dir = await home()
    const keychain = () => Promise.reject(new Error('Cannot find module @napi-rs/keyring'))
    const first = await resolveEncryptionKey({ home: dir, keychain })
    expect(first).toMatchObject({ source: 'file', created: true, location: join(dir, 'key') })
    expect(first.keychainUnavailable).toContain('Cannot find module')
    expect(await modeOf(join(dir, 'key'))).toBe(0o600)
    expect(await modeOf(dir)).toBe(0o700)
    const text = await readFile(join(dir, 'key'), 'utf8')
    expect(EncryptionKey.parse(text).equals(first.key)).toBe(true)
    const again = await resolveEncryptionKey({ home: dir, keychain })
    expect(again).toMatchObject({ source: 'file', created: false })
    expect(again.key.equals(first.key)).toBe(true)
  })

  it('treats a failing, locked or hanging keychain as unavailable', async () => {
    for (const behaviour of [{ failGet: true }, { failSet: true }, { hang: true }]) {
      const dir = await home()
      const keychain = fakeKeychain(behaviour)
      const resolved = await resolveEncryptionKey({
        home: dir,
        keychain: keychain.module,
        keychainTimeoutMs: 50,
      })
      expect(resolved.source, JSON.stringify(behaviour)).toBe('file')
      expect(resolved.keychainUnavailable).not.toBeNull()
    }
  })

  it('a keychain whose entry cannot be constructed (no Secret Service) counts as unavailable', async () => {
    const dir = await home()
    const module: KeychainModule = {
      AsyncEntry: function AsyncEntry() {
        throw new Error('secret-service store is not available')
      } as unknown as KeychainModule['AsyncEntry'],
    }
    const resolved = await resolveEncryptionKey({ home: dir, keychain: module })
    expect(resolved.source).toBe('file')
    expect(resolved.keychainUnavailable).toContain('secret-service')
  })

  it('uses the environment key when neither keychain nor key file holds one, without creating anything', async () => {
    const dir = await home()
    const bytes = Buffer.alloc(32, 7)
    for (const envKey of [bytes.toString('hex'), bytes.toString('base64')]) {
      const resolved = await resolveEncryptionKey({ home: dir, envKey, useKeychain: false })
      expect(resolved).toMatchObject({
        source: 'env',
        location: 'CODEX_BROKER_KEY',
        created: false,
      })
      expect(resolved.key.equals(EncryptionKey.fromBytes(bytes))).toBe(true)
    }
    await expect(readFile(join(dir, 'key'))).rejects.toThrow()
  })

  it('an existing key file wins over the environment key, and says so', async () => {
    const dir = await home()
    const created = await resolveEncryptionKey({ home: dir, useKeychain: false })
    const envKey = Buffer.alloc(32, 9).toString('hex')
    const resolved = await resolveEncryptionKey({ home: dir, envKey, useKeychain: false })
    expect(resolved).toMatchObject({ source: 'file', envKeyIgnored: true })
    expect(resolved.key.equals(created.key)).toBe(true)
    const same = await resolveEncryptionKey({
      home: dir,
      envKey: created.key.reveal(),
      useKeychain: false,
    })
    expect(same.envKeyIgnored).toBe(false)
  })

  it('a bad environment key is a clear error that does not echo it', async () => {
    const dir = await home()
    const envKey = 'hunter2-not-a-key'
    const error = await rejectionOf(resolveEncryptionKey({ home: dir, envKey, useKeychain: false }))
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG'), String(error)).toBe(true)
    expect((error as Error).message).toContain('CODEX_BROKER_KEY is not a valid encryption key')
    expect((error as Error).message).not.toContain(envKey)
  })

  it('with create: false and no key anywhere, fails with advice', async () => {
    const dir = await home()
    const error = await rejectionOf(
      resolveEncryptionKey({ home: dir, useKeychain: false, create: false, envKey: '  ' }),
    )
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG'), String(error)).toBe(true)
    expect((error as Error).message).toContain('No encryption key found')
  })

  it('refuses a key file other users can read', async () => {
    const dir = await home()
    await resolveEncryptionKey({ home: dir, useKeychain: false })
    await chmod(join(dir, 'key'), 0o644)
    const error = await rejectionOf(resolveEncryptionKey({ home: dir, useKeychain: false }))
    expect(isBrokerError(error, 'ERR_UNSAFE_FILE'), String(error)).toBe(true)
    expect((error as Error).message).toContain('chmod 600')
  })

  it('a damaged key file is a clear error naming the file', async () => {
    const dir = await home()
    await resolveEncryptionKey({ home: dir, useKeychain: false })
    await writeFile(join(dir, 'key'), 'garbage\n', { mode: 0o600 })
    const error = await rejectionOf(resolveEncryptionKey({ home: dir, useKeychain: false }))
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG'), String(error)).toBe(true)
    expect((error as Error).message).toContain(join(dir, 'key'))
  })
})

describe('resolveEncryptionKey with the real @napi-rs/keyring', () => {
  it('loads it or reports it unavailable, and never throws for that reason (read-only: create is off)', async () => {
    const dir = await home()
    const envKey = Buffer.alloc(32, 3).toString('hex')
    const resolved = await resolveEncryptionKey({ home: dir, envKey, create: false })
    expect(resolved.source).toBe('env')
    expect(resolved.key.equals(EncryptionKey.parse(envKey))).toBe(true)
  })
})
