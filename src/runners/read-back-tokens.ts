/**
 * After a Codex CLI run, the refresh chain comes home. The CLI refreshes on its own when its access token nears
 * expiry or the backend answers 401, and writes the rotated tokens into the run's `auth.json` (in place, PROTOCOL.md
 * §6). Each rotation spends the previous refresh token, so a rotation left in the temporary home would be lost
 * and the broker's next refresh would replay a spent token — a reuse that revokes the sign-in everywhere
 * (SECURITY.md C5.3). So, under the account's lock (the same lock the `TokenManager` refreshes under):
 *
 * 1. `auth.json` is read as a private file (a regular file, not a link, 0600, ours, ≤ 1 MiB) and parsed with the
 *    store's own reader (`importCodexAuth`); a missing, unsafe or unreadable file changes nothing;
 * 2. tokens of another ChatGPT account are ignored (a run lends one account and takes back only that one);
 * 3. the same refresh token as lent: nothing to do;
 * 4. a different one: the store is updated **only if it still holds the refresh token that was lent** (compare and
 *    swap in `store.update`). Then the CLI's tokens are the newest of the chain: they replace the stored ones, the
 *    account is active again (a disabled one stays disabled) and no refresh is in flight. If the store holds
 *    another token, the broker rotated the chain itself during the run; the chain forked, one side was a reuse,
 *    and the stored tokens are kept (`conflict`, for the log).
 *
 * It runs after every run that lent tokens — completed, failed, timed out or aborted. During the run,
 * {@link tokensInAuthFile} reads the file's current tokens (without the lock, without parsing claims) so the
 * runner can scrub a token the CLI rotated a moment ago from the agent's answer.
 */
import { hasErrnoCode, isBrokerError, readPrivateFileIfPresent, type Secret } from '../lib/index.js'
import { type ChatgptAuth, type CredentialStore, importCodexAuth } from '../store/index.js'

/** The largest auth.json read back (1 MiB, the store reader's own limit). */
const MAX_AUTH_FILE_BYTES = 1024 * 1024

/** What the read-back found. */
export type ReadBackOutcome =
  'unchanged' | 'saved' | 'conflict' | 'missing' | 'unreadable' | 'unsafe' | 'other_account'

/** The result of {@link readBackTokens}. */
export interface ReadBackResult {
  readonly outcome: ReadBackOutcome
  /** The tokens found in the file when they differ from the lent ones (for redaction), else null. */
  readonly found: ChatgptAuth | null
}

/** Options of {@link readBackTokens}. */
export interface ReadBackOptions {
  readonly store: CredentialStore
  readonly accountId: string
  /**
   * The ChatGPT account id of the lent tokens (default `accountId`; a store such as the web handler's keeps
   * accounts under ids of its own).
   */
  readonly chatgptAccountId?: string
  /** The run's auth.json. */
  readonly authFile: string
  /** The refresh token written into it before the run. */
  readonly lent: Secret
  /** The account lock's timeout (default: the store's). */
  readonly lockTimeoutMs?: number
}

interface Found {
  readonly id: string
  readonly auth: ChatgptAuth
}

async function readFound(authFile: string): Promise<Found | ReadBackOutcome> {
  try {
    const text = await readPrivateFileIfPresent(authFile, { maxBytes: MAX_AUTH_FILE_BYTES })
    if (text === null) return 'missing'
  } catch (error) {
    if (isBrokerError(error, 'ERR_UNSAFE_FILE')) return 'unsafe'
    if (hasErrnoCode(error, 'ENOENT')) return 'missing'
    throw error
  }
  try {
    const { accounts } = await importCodexAuth(authFile)
    const [account] = accounts
    if (account === undefined || account.auth.kind !== 'chatgpt') return 'unreadable'
    return { id: account.id, auth: account.auth }
  } catch (error) {
    if (isBrokerError(error)) return 'unreadable'
    throw error
  }
}

/**
 * The token strings the run's auth.json holds right now (none when it is missing, unsafe or unreadable).
 *
 * @example
 * for (const token of await tokensInAuthFile(scratch.authFile)) secrets.add(token)
 */
export async function tokensInAuthFile(authFile: string): Promise<string[]> {
  let text: string | null
  try {
    text = await readPrivateFileIfPresent(authFile, { maxBytes: MAX_AUTH_FILE_BYTES })
  } catch {
    return []
  }
  if (text === null) return []
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return []
  }
  const tokens: unknown =
    typeof json === 'object' && json !== null ? Reflect.get(json, 'tokens') : undefined
  if (typeof tokens !== 'object' || tokens === null) return []
  return ['id_token', 'access_token', 'refresh_token']
    .map((key): unknown => Reflect.get(tokens, key))
    .filter((value): value is string => typeof value === 'string' && value !== '')
}

/**
 * Reads the run's auth.json back into the store (rules in the module comment).
 *
 * @example
 * const { outcome } = await readBackTokens({ store, accountId, authFile: scratch.authFile, lent })
 * logger.info({ event: 'runner.readback', accountId, outcome }, 'runner.readback')
 */
export async function readBackTokens(options: ReadBackOptions): Promise<ReadBackResult> {
  const { store, accountId, lent } = options
  const lockOptions =
    options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }
  return store.withAccountLock(
    accountId,
    async (): Promise<ReadBackResult> => {
      const found = await readFound(options.authFile)
      if (typeof found === 'string') return { outcome: found, found: null }
      const { auth } = found
      const lentAccount = options.chatgptAccountId ?? accountId
      if (found.id !== lentAccount) return { outcome: 'other_account', found: auth }
      if (auth.refreshToken.equals(lent)) return { outcome: 'unchanged', found: null }
      let outcome: ReadBackOutcome = 'conflict'
      await store.update(accountId, (current) => {
        if (current.auth.kind !== 'chatgpt' || !current.auth.refreshToken.equals(lent)) {
          outcome = 'conflict'
          return current
        }
        outcome = 'saved'
        const disabled = current.status === 'disabled'
        return {
          ...current,
          auth,
          status: disabled ? 'disabled' : 'active',
          statusReason: disabled ? current.statusReason : null,
          refreshInFlightSince: null,
        }
      })
      return { outcome, found: auth }
    },
    lockOptions,
  )
}
