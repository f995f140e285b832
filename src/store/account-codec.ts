/**
 * The on-disk form of accounts (DESIGN.md "Credentials at rest"): `accounts.json` is
 * `{version: 1, accounts: [{id, label, email, plan, auth, status, statusReason, addedAt, lastUsedAt,
 * refreshInFlightSince?}]}` with timestamps as ISO strings and tokens as plain strings — or, when an encryption
 * key is configured, with each account's `auth` replaced by an AES-256-GCM envelope bound to that account's id (so
 * ids, emails and plans stay readable for `status` and support, while tokens are not). `refreshInFlightSince` is
 * written only while a refresh is out (never inside the envelope) and read as null when absent. In memory the same
 * data is a `StoredAccount`: unix milliseconds and `Secret` values. Decoding is zod-validated; anything wrong is an
 * `ERR_CORRUPT_STORE` naming the file and the problem, stating that nothing was overwritten and how to recover
 * (`accounts.json.bak`, or move the file away and sign in again). A `version` newer than this code reads asks the
 * user to upgrade codex-broker. The same record codec serves the Redis store (one encrypted record per key).
 */
import { z } from 'zod'
import { BrokerError, Secret } from '../lib/index.js'
import type { ApiKeyAuth, ChatgptAuth, StoredAccount } from './credential-store.js'
import {
  type DecryptContext,
  type EncryptionKey,
  decryptJson,
  encryptJson,
  looksEncrypted,
  wrongKeyError,
} from './encryption.js'

/** The format version this code writes and reads. */
export const ACCOUNTS_FILE_VERSION = 1

const isoTimestamp = z.iso.datetime({ offset: true })
const token = z.string().min(1)
const nullableText = z.string().nullable().default(null)

const chatgptAuthRecordSchema = z.object({
  kind: z.literal('chatgpt'),
  idToken: token,
  accessToken: token,
  refreshToken: token,
  expiresAt: isoTimestamp.nullable(),
  lastRefresh: isoTimestamp,
})

const apiKeyAuthRecordSchema = z.object({ kind: z.literal('apiKey'), apiKey: token })

/** The zod schema of a plain (unencrypted) `auth` record. */
export const authRecordSchema = z.discriminatedUnion('kind', [
  chatgptAuthRecordSchema,
  apiKeyAuthRecordSchema,
])

/** A plain `auth` record as stored. */
export type AuthRecord = z.output<typeof authRecordSchema>

const accountFieldsSchema = z.object({
  id: z.string().min(1),
  label: nullableText,
  email: nullableText,
  plan: nullableText,
  status: z.enum(['active', 'needs_login', 'disabled']),
  statusReason: nullableText,
  addedAt: isoTimestamp,
  lastUsedAt: isoTimestamp.nullable().default(null),
  // Absent from files written before it existed, and omitted on write while no refresh is out.
  refreshInFlightSince: isoTimestamp.nullable().optional(),
})

/** The zod schema of one plain account record. */
export const accountRecordSchema = accountFieldsSchema.extend({ auth: authRecordSchema })

/** One account as stored, with a plain `auth`. */
export type AccountRecord = z.output<typeof accountRecordSchema>

const fileSchema = z.object({
  version: z.literal(ACCOUNTS_FILE_VERSION),
  accounts: z.array(accountFieldsSchema.extend({ auth: z.unknown() })),
})

const versionProbeSchema = z.object({ version: z.number() }).loose()

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function ms(text: string): number {
  return Date.parse(text)
}

/**
 * The additional authenticated data that binds an encrypted `auth` of `accounts.json` to its account.
 *
 * @example
 * authAad('acc-1') // 'codex-broker:account-auth:acc-1'
 */
export function authAad(id: string): string {
  return `codex-broker:account-auth:${id}`
}

/**
 * The additional authenticated data that binds a whole encrypted account record (Redis) to its account.
 *
 * @example
 * recordAad('acc-1') // 'codex-broker:account:acc-1'
 */
export function recordAad(id: string): string {
  return `codex-broker:account:${id}`
}

/**
 * The stored form of an account's credentials (reveals the secrets; for writing only).
 *
 * @example
 * JSON.stringify(encodeAuth(account.auth))
 */
export function encodeAuth(auth: ChatgptAuth | ApiKeyAuth): AuthRecord {
  if (auth.kind === 'apiKey') return { kind: 'apiKey', apiKey: auth.apiKey.reveal() }
  return {
    kind: 'chatgpt',
    idToken: auth.idToken.reveal(),
    accessToken: auth.accessToken.reveal(),
    refreshToken: auth.refreshToken.reveal(),
    expiresAt: auth.expiresAt === null ? null : iso(auth.expiresAt),
    lastRefresh: iso(auth.lastRefresh),
  }
}

/**
 * The in-memory form of a stored `auth` record.
 *
 * @example
 * const auth = decodeAuth(authRecordSchema.parse(json))
 */
export function decodeAuth(record: AuthRecord): ChatgptAuth | ApiKeyAuth {
  if (record.kind === 'apiKey') return { kind: 'apiKey', apiKey: Secret.from(record.apiKey) }
  return {
    kind: 'chatgpt',
    idToken: Secret.from(record.idToken),
    accessToken: Secret.from(record.accessToken),
    refreshToken: Secret.from(record.refreshToken),
    expiresAt: record.expiresAt === null ? null : ms(record.expiresAt),
    lastRefresh: ms(record.lastRefresh),
  }
}

/**
 * The stored form of an account, with a plain `auth` (reveals the secrets; for writing only).
 *
 * @example
 * const record = encodeAccount(account)
 */
export function encodeAccount(account: StoredAccount): AccountRecord {
  return {
    id: account.id,
    label: account.label,
    email: account.email,
    plan: account.plan,
    auth: encodeAuth(account.auth),
    status: account.status,
    statusReason: account.statusReason,
    addedAt: iso(account.addedAt),
    lastUsedAt: account.lastUsedAt === null ? null : iso(account.lastUsedAt),
    ...(account.refreshInFlightSince == null
      ? {}
      : { refreshInFlightSince: iso(account.refreshInFlightSince) }),
  }
}

/**
 * The in-memory form of a validated account record.
 *
 * @example
 * const account = decodeAccount(accountRecordSchema.parse(json))
 */
export function decodeAccount(record: AccountRecord): StoredAccount {
  return {
    id: record.id,
    label: record.label,
    email: record.email,
    plan: record.plan,
    auth: decodeAuth(record.auth),
    status: record.status,
    statusReason: record.statusReason,
    addedAt: ms(record.addedAt),
    lastUsedAt: record.lastUsedAt === null ? null : ms(record.lastUsedAt),
    refreshInFlightSince:
      record.refreshInFlightSince == null ? null : ms(record.refreshInFlightSince),
  }
}

/**
 * A copy of an account that shares nothing mutable with the original (`Secret`s are immutable and shared); an
 * absent `refreshInFlightSince` becomes null, as a decoded record has it.
 *
 * @example
 * return cloneAccount(this.#accounts.get(id))
 */
export function cloneAccount(account: StoredAccount): StoredAccount {
  return {
    ...account,
    auth: { ...account.auth },
    refreshInFlightSince: account.refreshInFlightSince ?? null,
  }
}

/** Options of {@link encodeAccountsFile} and {@link decodeAccountsFile}. */
export interface AccountsFileCodecOptions {
  /** Encrypt each account's `auth` on write / the key to open encrypted ones on read. */
  readonly encryption?: EncryptionKey | undefined
}

/** Options of {@link decodeAccountsFile}. */
export interface DecodeAccountsFileOptions extends AccountsFileCodecOptions {
  /** The file's path, for messages. */
  readonly path: string
}

/**
 * The text of `accounts.json` for `accounts` (two-space JSON and a final newline).
 *
 * @example
 * await writeSecretFile(path, encodeAccountsFile(accounts, { encryption: key }))
 */
export function encodeAccountsFile(
  accounts: readonly StoredAccount[],
  options: AccountsFileCodecOptions = {},
): string {
  const key = options.encryption
  const records = accounts.map((account) => {
    const record = encodeAccount(account)
    return key === undefined
      ? record
      : { ...record, auth: encryptJson(key, record.auth, authAad(account.id)) }
  })
  return `${JSON.stringify({ version: ACCOUNTS_FILE_VERSION, accounts: records }, null, 2)}\n`
}

/**
 * The error for a store file that cannot be read as one.
 *
 * @example
 * throw corruptStoreError(path, 'accounts[2].id is missing')
 */
export function corruptStoreError(path: string, problem: string, cause?: unknown): BrokerError {
  const hint = `Restore the previous version (cp ${path}.bak ${path}) if it is good, or move the file away (mv ${path} ${path}.broken) and sign in again.`
  return new BrokerError(
    'ERR_CORRUPT_STORE',
    `${path} is not a valid codex-broker accounts file: ${problem}. Nothing was overwritten. ${hint}`,
    { cause, hint },
  )
}

function describeIssues(error: z.ZodError, prefix = ''): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    let where = prefix
    for (const part of issue.path) {
      if (typeof part === 'number') where += `[${part}]`
      else where += where === '' ? String(part) : `.${String(part)}`
    }
    return `${where === '' ? 'the top level' : where}: ${issue.message}`
  })
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more problems)` : ''
  return `${shown.join('; ')}${more}`
}

/**
 * Reads the text of `accounts.json` (rules in the module comment). Plain `auth` records are accepted even when a
 * key is configured (they are encrypted on the next write).
 *
 * @throws {BrokerError} `ERR_CORRUPT_STORE` for anything malformed or a newer format version; `ERR_WRONG_KEY`
 * when an encrypted `auth` was written with another key or no key is configured.
 * @example
 * const accounts = decodeAccountsFile(await readFile(path, 'utf8'), { path, encryption: key })
 */
export function decodeAccountsFile(
  text: string,
  options: DecodeAccountsFileOptions,
): StoredAccount[] {
  const { path } = options
  let json: unknown
  try {
    json = JSON.parse(text) as unknown
  } catch {
    // The SyntaxError quotes the file's content (tokens), so neither it nor its message is kept.
    throw corruptStoreError(
      path,
      text.trim() === '' ? 'the file is empty' : 'it is not valid JSON (truncated or edited?)',
    )
  }
  const probe = versionProbeSchema.safeParse(json)
  if (probe.success && probe.data.version > ACCOUNTS_FILE_VERSION) {
    const hint = 'Upgrade codex-broker (npm install -g codex-broker@latest) and try again.'
    throw new BrokerError(
      'ERR_CORRUPT_STORE',
      `${path} was written by a newer codex-broker (format version ${probe.data.version}; this version reads ${ACCOUNTS_FILE_VERSION}). Nothing was overwritten. ${hint}`,
      { hint },
    )
  }
  const file = fileSchema.safeParse(json)
  if (!file.success) throw corruptStoreError(path, describeIssues(file.error))

  const seen = new Set<string>()
  return file.data.accounts.map((shell, index) => {
    if (seen.has(shell.id)) {
      throw corruptStoreError(path, `accounts[${index}] repeats the account id ${shell.id}`)
    }
    seen.add(shell.id)
    let authJson = shell.auth
    if (looksEncrypted(authJson)) {
      const context: DecryptContext = {
        where: `${path} (account ${shell.id})`,
        removal: `move ${path} away`,
      }
      if (options.encryption === undefined) throw wrongKeyError(context, null)
      authJson = decryptJson(options.encryption, authJson, authAad(shell.id), context)
    }
    const auth = authRecordSchema.safeParse(authJson)
    if (!auth.success) {
      throw corruptStoreError(path, describeIssues(auth.error, `accounts[${index}].auth`))
    }
    return decodeAccount({ ...shell, auth: auth.data })
  })
}

/**
 * Validates one decrypted account record (the Redis store's value) and checks it belongs to `id`.
 *
 * @throws {BrokerError} `ERR_CORRUPT_STORE` when malformed or when it names another account.
 * @example
 * const account = parseAccountRecord(decryptJson(key, envelope, recordAad(id), context), id, where)
 */
export function parseAccountRecord(json: unknown, id: string, where: string): StoredAccount {
  const record = accountRecordSchema.safeParse(json)
  const hint = `Remove the record (${where}) and sign in again.`
  if (!record.success) {
    throw new BrokerError(
      'ERR_CORRUPT_STORE',
      `The account record ${where} is malformed: ${describeIssues(record.error)}. Nothing was changed. ${hint}`,
      { hint },
    )
  }
  if (record.data.id !== id) {
    throw new BrokerError(
      'ERR_CORRUPT_STORE',
      `The account record ${where} names another account. Nothing was changed. ${hint}`,
      { hint },
    )
  }
  return decodeAccount(record.data)
}

/**
 * Checks that an `update` callback kept the account id.
 *
 * @throws {BrokerError} `ERR_INVALID_REQUEST` when it changed.
 * @example
 * assertSameAccount(id, change(current))
 */
export function assertSameAccount(id: string, next: StoredAccount): StoredAccount {
  if (next.id !== id) {
    throw new BrokerError(
      'ERR_INVALID_REQUEST',
      `An update of account ${id} returned account ${next.id}; an update cannot change the id.`,
    )
  }
  return next
}
