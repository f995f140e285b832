/**
 * Test fixtures for the credential stores: accounts with recognisable, unique token strings (so a test can look
 * for them in raw files and Redis values), a private temporary home per test, and small file helpers.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { Secret } from '../../src/lib/index.js'
import type { ChatgptAuth, StoredAccount } from '../../src/store/index.js'

export { makeTempDir, isRoot } from '../lib/temp-dir.js'

let sequence = 0

/** A ChatGPT account with unique token values `CANARY_<kind>_<hex>`; `addedAt` increases per call. */
export function chatgptAccount(overrides: Partial<StoredAccount> = {}): StoredAccount {
  sequence += 1
  const tag = randomBytes(8).toString('hex')
  const base = Date.parse('2026-01-01T00:00:00.000Z')
  return {
    id: `acc-${tag}`,
    label: null,
    email: `user${sequence}@example.com`,
    plan: 'plus',
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(`CANARY_ID_${tag}`),
      accessToken: Secret.from(`CANARY_AT_${tag}`),
      refreshToken: Secret.from(`CANARY_RT_${tag}`),
      expiresAt: base + 3_600_000,
      lastRefresh: base,
    },
    status: 'active',
    statusReason: null,
    addedAt: base + sequence,
    lastUsedAt: null,
    refreshInFlightSince: null,
    ...overrides,
  }
}

/** An API-key account. */
export function apiKeyAccount(overrides: Partial<StoredAccount> = {}): StoredAccount {
  sequence += 1
  const tag = randomBytes(8).toString('hex')
  return {
    id: `apikey-${tag}`,
    label: 'ci key',
    email: null,
    plan: null,
    auth: { kind: 'apiKey', apiKey: Secret.from(`sk-CANARYKEY${tag}`) },
    status: 'active',
    statusReason: null,
    addedAt: Date.parse('2026-01-01T00:00:00.000Z') + sequence,
    lastUsedAt: null,
    refreshInFlightSince: null,
    ...overrides,
  }
}

/** The secret strings of an account, for leak checks. */
export function secretsOf(account: StoredAccount): string[] {
  const { auth } = account
  if (auth.kind === 'apiKey') return [auth.apiKey.reveal()]
  return [auth.idToken.reveal(), auth.accessToken.reveal(), auth.refreshToken.reveal()]
}

/** A comparable, plain view of an account (secrets revealed). */
export function plain(account: StoredAccount | null): unknown {
  if (account === null) return null
  const { auth } = account
  return {
    ...account,
    auth:
      auth.kind === 'apiKey'
        ? { kind: 'apiKey', apiKey: auth.apiKey.reveal() }
        : {
            ...auth,
            idToken: auth.idToken.reveal(),
            accessToken: auth.accessToken.reveal(),
            refreshToken: auth.refreshToken.reveal(),
          },
  }
}

/** The account's ChatGPT auth (fails the test for an API key). */
export function chatgptAuthOf(account: StoredAccount): ChatgptAuth {
  if (account.auth.kind !== 'chatgpt') throw new Error(`${account.id} is not a ChatGPT account`)
  return account.auth
}

/** The permission bits of a path. */
export async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}

/** SHA-256 hex of a file's bytes. */
export async function hashOf(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex')
}

/** Awaits a promise that must reject, and returns the reason. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
}
