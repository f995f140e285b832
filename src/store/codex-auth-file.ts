/**
 * Import from and export to the official Codex CLI's credential file, `auth.json` (PROTOCOL.md §6):
 * `{auth_mode: "chatgpt", OPENAI_API_KEY: null, tokens: {id_token, access_token, refresh_token, account_id,
 * oauth_provenance: {issuer, client_id}}, last_refresh}` or `{auth_mode: "apikey", OPENAI_API_KEY: "sk-…"}`.
 * Files of older CLI versions without `auth_mode` are read by their content (tokens → chatgpt, a key → apikey).
 *
 * Import reads one file, or every `*.json` of a folder that parses as an auth.json (others are skipped with a
 * warning), deduplicated by account id keeping the newest `last_refresh`. Accounts get their id, email and plan
 * from the id token's claims and `expiresAt` from the access token's `exp` (oauth/claims.ts); an API key gets the
 * stable id `apikey-<sha256 prefix>`, so importing it twice does not duplicate it. The official CLI's file is
 * sometimes group/other-readable by accident: it is still read (refusing would only stop the user from moving
 * the credentials somewhere safer), and the result carries a warning with the `chmod 600` fix. Reads never follow
 * into a FIFO (`O_NONBLOCK`) and stop at 1 MiB.
 *
 * Importing moves the refresh chain: from then on only one program may refresh it — two programs refreshing the
 * same chain log each other out (every refresh rotates the refresh token and a replayed one revokes the family).
 * {@link CODEX_IMPORT_WARNING} is the sentence the CLI prints; export carries the same hazard the other way.
 * Export writes exactly the §6 shape (two-space JSON, keys in §6 order) with `writeSecretFile` (0600).
 */
import { open, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import {
  BrokerError,
  Secret,
  formatMode,
  hasErrnoCode,
  openFlag,
  sha256Hex,
  writeSecretFile,
} from '../lib/index.js'
import { parseAccessTokenClaims, parseIdTokenClaims } from '../oauth/claims.js'
import type { StoredAccount } from './credential-store.js'

/** What the CLI prints after an import. */
export const CODEX_IMPORT_WARNING =
  'From now on codex-broker owns the refresh chain of the imported ChatGPT account(s). Do not keep using the ' +
  'same sign-in in the official Codex CLI or another program: two programs refreshing the same chain log each ' +
  'other out. Point Codex at codex-broker instead, or sign it in separately (codex login).'

/** What the CLI prints after an export. */
export const CODEX_EXPORT_WARNING =
  'The exported file carries the account’s refresh chain. Only one program may refresh it: if the Codex CLI ' +
  'uses this file, remove the account from codex-broker (codex-broker accounts remove) or the two will log each ' +
  'other out.'

/** The largest auth.json read (1 MiB). */
export const MAX_CODEX_AUTH_FILE_BYTES = 1024 * 1024

const READ_FLAGS = openFlag('O_RDONLY') | openFlag('O_NONBLOCK')

const tokensSchema = z.object({
  id_token: z.string().min(1),
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  account_id: z.string().min(1).nullish(),
  oauth_provenance: z
    .object({ issuer: z.string().nullish(), client_id: z.string().nullish() })
    .nullish(),
})

const authFileSchema = z.object({
  auth_mode: z.string().nullish(),
  OPENAI_API_KEY: z.string().nullish(),
  tokens: tokensSchema.nullish(),
  last_refresh: z.string().nullish(),
})

/** The result of {@link importCodexAuth}. */
export interface CodexAuthImport {
  /** The accounts found (deduplicated), ready for `store.put`. */
  readonly accounts: StoredAccount[]
  /** Things the user should know: loose file modes, skipped files, duplicates dropped. */
  readonly warnings: string[]
}

/** Options of {@link importCodexAuth}. */
export interface ImportCodexAuthOptions {
  /** The current time in unix milliseconds (for `addedAt`); default `Date.now()`. */
  readonly now?: number
}

/** Options of {@link exportCodexAuth}. */
export interface ExportCodexAuthOptions {
  /** The issuer the tokens came from, for `oauth_provenance` (e.g. `https://auth.openai.com`). */
  readonly issuer: string
  /** The OAuth client id, for `oauth_provenance`. */
  readonly clientId: string
}

interface Candidate {
  readonly account: StoredAccount
  readonly path: string
}

function notAuthFile(path: string, problem: string, cause?: unknown): BrokerError {
  const hint = 'Point the command at the official CLI’s auth.json (usually ~/.codex/auth.json).'
  return new BrokerError(
    'ERR_INVALID_REQUEST',
    `${path} is not a Codex auth.json: ${problem}. ${hint}`,
    { cause, hint },
  )
}

async function readAuthText(path: string, warnings: string[]): Promise<string> {
  let handle
  try {
    handle = await open(path, READ_FLAGS)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) {
      throw new BrokerError('ERR_NOT_FOUND', `${path} does not exist.`, {
        cause: error,
        hint: 'Point the command at the official CLI’s auth.json (usually ~/.codex/auth.json).',
      })
    }
    throw error
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw notAuthFile(path, 'it is not a regular file')
    if (stat.size > MAX_CODEX_AUTH_FILE_BYTES) {
      throw notAuthFile(path, `it is ${stat.size} bytes, far larger than an auth.json`)
    }
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      warnings.push(
        `${path} has mode ${formatMode(stat.mode)}: other users on this machine may be able to read these credentials. Fix it with: chmod 600 ${path}`,
      )
    }
    const buffer = Buffer.alloc(MAX_CODEX_AUTH_FILE_BYTES + 1)
    let total = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > MAX_CODEX_AUTH_FILE_BYTES) throw notAuthFile(path, 'it is too large')
    }
    return buffer.subarray(0, total).toString('utf8')
  } finally {
    await handle.close()
  }
}

function parseAuthFile(text: string, path: string, now: number, warnings: string[]): StoredAccount {
  let json: unknown
  try {
    json = JSON.parse(text) as unknown
  } catch {
    // The SyntaxError would quote the content (tokens), so it is not kept.
    throw notAuthFile(path, 'it is not valid JSON')
  }
  const parsed = authFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.map(String).join('.') ?? ''
    throw notAuthFile(
      path,
      `${where === '' ? 'the top level' : where}: ${issue?.message ?? 'invalid'}`,
    )
  }
  const file = parsed.data
  const mode =
    file.auth_mode ??
    (file.tokens != null ? 'chatgpt' : file.OPENAI_API_KEY != null ? 'apikey' : null)
  if (mode === 'apikey') {
    const apiKey = file.OPENAI_API_KEY
    if (apiKey == null || apiKey === '')
      throw notAuthFile(path, 'auth_mode is apikey but OPENAI_API_KEY is empty')
    return {
      id: `apikey-${sha256Hex(apiKey).slice(0, 16)}`,
      label: null,
      email: null,
      plan: null,
      auth: { kind: 'apiKey', apiKey: Secret.from(apiKey) },
      status: 'active',
      statusReason: null,
      addedAt: now,
      lastUsedAt: null,
    }
  }
  if (mode !== 'chatgpt') {
    throw notAuthFile(
      path,
      mode === null
        ? 'it holds neither tokens nor an API key'
        : `unknown auth_mode ${JSON.stringify(mode)}`,
    )
  }
  const tokens = file.tokens
  if (tokens == null) throw notAuthFile(path, 'auth_mode is chatgpt but there are no tokens')
  let claims, access
  try {
    claims = parseIdTokenClaims(tokens.id_token)
    access = parseAccessTokenClaims(tokens.access_token)
  } catch (error) {
    throw notAuthFile(path, 'its id token or access token is not a readable JWT', error)
  }
  if (tokens.account_id != null && tokens.account_id !== claims.chatgptAccountId) {
    warnings.push(
      `${path}: tokens.account_id (${tokens.account_id}) differs from the id token's account (${claims.chatgptAccountId}); using the id token's.`,
    )
  }
  const lastRefresh = file.last_refresh == null ? Number.NaN : Date.parse(file.last_refresh)
  return {
    id: claims.chatgptAccountId,
    label: null,
    email: claims.email,
    plan: claims.planType,
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(tokens.id_token),
      accessToken: Secret.from(tokens.access_token),
      refreshToken: Secret.from(tokens.refresh_token),
      expiresAt: access.expiresAt,
      lastRefresh: Number.isNaN(lastRefresh) ? now : lastRefresh,
    },
    status: 'active',
    statusReason: null,
    addedAt: now,
    lastUsedAt: null,
  }
}

function freshness(account: StoredAccount): number {
  return account.auth.kind === 'chatgpt' ? account.auth.lastRefresh : account.addedAt
}

/**
 * Reads the official CLI's `auth.json` — a file, or a folder of them (rules in the module comment).
 *
 * @throws {BrokerError} `ERR_NOT_FOUND` when the path does not exist or a folder holds no auth.json;
 * `ERR_INVALID_REQUEST` when a file named directly is not an auth.json.
 * @example
 * const { accounts, warnings } = await importCodexAuth(join(homedir(), '.codex', 'auth.json'))
 * for (const account of accounts) await store.put(account)
 * console.error([...warnings, CODEX_IMPORT_WARNING].join('\n'))
 */
export async function importCodexAuth(
  path: string,
  options: ImportCodexAuthOptions = {},
): Promise<CodexAuthImport> {
  const target = resolve(path)
  const now = options.now ?? Date.now()
  const warnings: string[] = []

  let names: string[] | null = null
  try {
    names = (await readdir(target)).filter((name) => name.endsWith('.json')).sort()
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) {
      throw new BrokerError('ERR_NOT_FOUND', `${target} does not exist.`, {
        cause: error,
        hint: 'Point the command at the official CLI’s auth.json (usually ~/.codex/auth.json).',
      })
    }
    if (!hasErrnoCode(error, 'ENOTDIR')) throw error
  }
  if (names === null) {
    const text = await readAuthText(target, warnings)
    return { accounts: [parseAuthFile(text, target, now, warnings)], warnings }
  }

  const byId = new Map<string, Candidate>()
  for (const name of names) {
    const file = join(target, name)
    let account: StoredAccount
    try {
      const fileWarnings: string[] = []
      account = parseAuthFile(await readAuthText(file, fileWarnings), file, now, fileWarnings)
      warnings.push(...fileWarnings)
    } catch (error) {
      const reason = error instanceof BrokerError ? error.message : 'it could not be read'
      warnings.push(`Skipped ${file}: ${reason}`)
      continue
    }
    const previous = byId.get(account.id)
    if (previous === undefined) {
      byId.set(account.id, { account, path: file })
      continue
    }
    const keep =
      freshness(account) > freshness(previous.account) ? { account, path: file } : previous
    const drop = keep === previous ? file : previous.path
    warnings.push(
      `${drop} holds the same account as ${keep.path} (${account.id}); kept the most recently refreshed.`,
    )
    byId.set(account.id, keep)
  }
  if (byId.size === 0) {
    throw new BrokerError('ERR_NOT_FOUND', `${target} holds no Codex auth.json file.`, {
      hint: 'Point the command at an auth.json file or at a folder of them.',
    })
  }
  return { accounts: [...byId.values()].map((candidate) => candidate.account), warnings }
}

/**
 * The official CLI's `auth.json` text for `account` (PROTOCOL.md §6 shape, two-space JSON).
 *
 * @example
 * const text = exportCodexAuth(account, { issuer: 'https://auth.openai.com', clientId: CODEX_CLIENT_ID })
 */
export function exportCodexAuth(account: StoredAccount, options: ExportCodexAuthOptions): string {
  const { auth } = account
  if (auth.kind === 'apiKey') {
    return JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: auth.apiKey.reveal() }, null, 2)
  }
  return JSON.stringify(
    {
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: null,
      tokens: {
        id_token: auth.idToken.reveal(),
        access_token: auth.accessToken.reveal(),
        refresh_token: auth.refreshToken.reveal(),
        account_id: chatgptAccountIdOf(account.id, auth.accessToken),
        oauth_provenance: { issuer: options.issuer, client_id: options.clientId },
      },
      last_refresh: new Date(auth.lastRefresh).toISOString(),
    },
    null,
    2,
  )
}

/**
 * The ChatGPT account id the CLI must send: the access token's claim (a store may keep the account under an id of
 * its own, as the web handler does), else the stored id.
 */
function chatgptAccountIdOf(id: string, accessToken: Secret): string {
  try {
    return parseAccessTokenClaims(accessToken).chatgptAccountId ?? id
  } catch {
    return id
  }
}

/**
 * Writes {@link exportCodexAuth}'s text to `path` (0600, atomic, never through a symbolic link).
 *
 * @example
 * await writeCodexAuthFile(join(homedir(), '.codex', 'auth.json'), account, { issuer, clientId })
 */
export async function writeCodexAuthFile(
  path: string,
  account: StoredAccount,
  options: ExportCodexAuthOptions,
): Promise<void> {
  await writeSecretFile(path, exportCodexAuth(account, options))
}
