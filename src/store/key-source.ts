/**
 * Where the encryption key comes from (DESIGN.md "Credentials at rest"): the OS keychain via the optional
 * `@napi-rs/keyring` (service `codex-broker`, account = the home's absolute path) when it loads and answers;
 * else a 0600 key file `<home>/key` (read with `assertPrivateFile`, created with `writeSecretFile`); else the
 * `CODEX_BROKER_KEY` value the CLI passes in (64 hex digits or base64 of 32 bytes).
 *
 * Resolution never replaces a key that exists: an existing keychain entry wins, then an existing key file, then
 * the given environment key; only when none of them exists (and `create` is set) is a new key generated — in the
 * keychain when it works, else in the key file. So setting `CODEX_BROKER_KEY` chooses the key of a fresh home, and
 * a keychain or key file that already holds one keeps it (reported as `envKeyIgnored`, for `status`). An
 * environment key is validated whenever it is given, so a typo fails loudly.
 *
 * On Linux the keychain is pinned to the Secret Service (gnome-keyring, KWallet, KeePassXC): the binding's
 * fallback, the kernel keyring, is memory-only and would lose the key — and with it every encrypted credential —
 * at the next reboot. Any failure to load or use the keychain (no module, no D-Bus, locked, slower than
 * `keychainTimeoutMs`) counts as "no keychain". The result says which source was used; the key itself is never
 * part of a message.
 */
import { join, resolve } from 'node:path'
import {
  BrokerError,
  assertPrivateFile,
  ensurePrivateDir,
  isBrokerError,
  writeSecretFile,
} from '../lib/index.js'
import { EncryptionKey } from './encryption.js'

/** The keychain service name. */
export const KEYCHAIN_SERVICE = 'codex-broker'

/** The key file's name inside the home. */
export const KEY_FILE_NAME = 'key'

/** How long a keychain call may take before it counts as unavailable (5 s). */
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 5_000

/** Where a key came from. */
export type EncryptionKeySource = 'keychain' | 'file' | 'env'

/** The subset of `@napi-rs/keyring`'s `AsyncEntry` used here. */
export interface KeychainEntry {
  getPassword(signal?: AbortSignal): Promise<string | null | undefined>
  setPassword(password: string, signal?: AbortSignal): Promise<void>
}

/** The subset of the `@napi-rs/keyring` module used here (injectable for tests). */
export interface KeychainModule {
  AsyncEntry: new (
    service: string,
    account: string,
    options?: { linux?: { store?: 'secret-service' | 'keyutils' } },
  ) => KeychainEntry
}

/** Options of {@link resolveEncryptionKey}. */
export interface ResolveEncryptionKeyOptions {
  /** The broker's home (the key file's directory and the keychain account name). */
  readonly home: string
  /** The value of `CODEX_BROKER_KEY` (the CLI reads the environment; this module does not). */
  readonly envKey?: string | undefined
  /** Try the OS keychain; default true. */
  readonly useKeychain?: boolean
  /** Generate and store a key when none exists; default true. */
  readonly create?: boolean
  /** The keychain module, or a loader of it; default `import('@napi-rs/keyring')`. */
  readonly keychain?: KeychainModule | (() => Promise<KeychainModule>)
  /** Keychain calls slower than this count as unavailable; default 5 s. */
  readonly keychainTimeoutMs?: number
  /** Platform (selects the Linux Secret Service pin); default `process.platform`. */
  readonly platform?: NodeJS.Platform
}

/** A resolved key and where it came from. */
export interface ResolvedEncryptionKey {
  readonly key: EncryptionKey
  readonly source: EncryptionKeySource
  /** A human description of the place: `keychain codex-broker/<home>`, the key file's path, or `CODEX_BROKER_KEY`. */
  readonly location: string
  /** True when this call generated the key. */
  readonly created: boolean
  /** True when an environment key was given but an existing keychain entry or key file was used instead. */
  readonly envKeyIgnored: boolean
  /** Why the keychain was not used, when it was not (for `status --verbose`); null when it was. */
  readonly keychainUnavailable: string | null
}

async function loadKeychainModule(): Promise<KeychainModule> {
  const specifier = '@napi-rs/keyring'
  const loaded: unknown = await import(specifier)
  const AsyncEntry: unknown =
    typeof loaded === 'object' && loaded !== null ? Reflect.get(loaded, 'AsyncEntry') : undefined
  if (typeof AsyncEntry !== 'function') throw new Error('@napi-rs/keyring has no AsyncEntry')
  return loaded as KeychainModule
}

function withTimeout<T>(
  work: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new Error(`${what} took longer than ${timeoutMs} ms`))
    }, timeoutMs)
    timer.unref()
  })
  return Promise.race([work(controller.signal), timeout]).finally(() => {
    clearTimeout(timer)
  })
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

interface Keychain {
  readonly entry: KeychainEntry | null
  readonly unavailable: string | null
  readonly location: string
}

async function openKeychain(options: ResolveEncryptionKeyOptions, home: string): Promise<Keychain> {
  const location = `keychain ${KEYCHAIN_SERVICE}/${home}`
  if (options.useKeychain === false) {
    return { entry: null, unavailable: 'disabled', location }
  }
  try {
    const source = options.keychain ?? loadKeychainModule
    const module = typeof source === 'function' ? await source() : source
    const platform = options.platform ?? process.platform
    const entryOptions = platform === 'linux' ? { linux: { store: 'secret-service' as const } } : {}
    return {
      entry: new module.AsyncEntry(KEYCHAIN_SERVICE, home, entryOptions),
      unavailable: null,
      location,
    }
  } catch (error) {
    return { entry: null, unavailable: describeFailure(error), location }
  }
}

/**
 * Finds (or creates) the encryption key, in the order of the module comment.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` when the environment key, the key file or the keychain entry is not a
 * valid key, or when no key exists and `create` is false; `ERR_UNSAFE_FILE` when the key file is not private;
 * `ERR_UNSAFE_HOME` when the home is not.
 * @example
 * const { key, source } = await resolveEncryptionKey({ home, envKey: keyFromCli })
 * const store = new FileCredentialStore({ home, encryption: key })
 */
export async function resolveEncryptionKey(
  options: ResolveEncryptionKeyOptions,
): Promise<ResolvedEncryptionKey> {
  const home = resolve(options.home)
  const keyFile = join(home, KEY_FILE_NAME)
  const timeoutMs = options.keychainTimeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS
  const envText = options.envKey?.trim() ?? ''
  const envKey = envText === '' ? null : EncryptionKey.parse(envText, 'CODEX_BROKER_KEY')

  const keychain = await openKeychain(options, home)
  let unavailable = keychain.unavailable
  let entry = keychain.entry
  if (entry !== null) {
    let stored: string | null | undefined
    try {
      const reading = entry
      stored = await withTimeout((signal) => reading.getPassword(signal), timeoutMs, 'The keychain')
    } catch (error) {
      unavailable = describeFailure(error)
      entry = null
    }
    if (typeof stored === 'string' && stored !== '') {
      const key = EncryptionKey.parse(stored, `The keychain entry ${keychain.location}`)
      return found(key, 'keychain', keychain.location, false, envKey, null)
    }
  }

  await ensurePrivateDir(home)
  try {
    const text = await assertPrivateFile(keyFile, { maxBytes: 1024 })
    return found(
      EncryptionKey.parse(text, `The key file ${keyFile}`),
      'file',
      keyFile,
      false,
      envKey,
      unavailable,
    )
  } catch (error) {
    if (!isBrokerError(error, 'ERR_NOT_FOUND')) throw error
  }

  if (envKey !== null) {
    return {
      key: envKey,
      source: 'env',
      location: 'CODEX_BROKER_KEY',
      created: false,
      envKeyIgnored: false,
      keychainUnavailable: unavailable,
    }
  }

  if (options.create === false) {
    throw new BrokerError(
      'ERR_INVALID_CONFIG',
      `No encryption key found (not in the keychain, no key file ${keyFile}, no CODEX_BROKER_KEY).`,
      {
        hint: 'Set CODEX_BROKER_KEY to 32 random bytes (openssl rand -base64 32), or let codex-broker create a key.',
      },
    )
  }

  const key = EncryptionKey.generate()
  if (entry !== null) {
    try {
      const writing = entry
      await withTimeout(
        (signal) => writing.setPassword(key.reveal(), signal),
        timeoutMs,
        'The keychain',
      )
      return found(key, 'keychain', keychain.location, true, null, null)
    } catch (error) {
      unavailable = describeFailure(error)
    }
  }
  await writeSecretFile(keyFile, `${key.reveal()}\n`)
  return found(key, 'file', keyFile, true, null, unavailable)
}

function found(
  key: EncryptionKey,
  source: EncryptionKeySource,
  location: string,
  created: boolean,
  envKey: EncryptionKey | null,
  keychainUnavailable: string | null,
): ResolvedEncryptionKey {
  return {
    key,
    source,
    location,
    created,
    envKeyIgnored: envKey !== null && !envKey.equals(key),
    keychainUnavailable,
  }
}
