/**
 * Test fixtures for the token manager: an in-memory `CredentialStore` with a real per-account async lock (the
 * contract of src/store, so several managers over one instance behave like processes sharing a home), and a fake
 * issuer with the simulator's strict rotation — every refresh spends its token, a spent one is a reuse — whose
 * `refresh` records every token it was sent, so tests can assert what went on the wire.
 */
import { Writable } from 'node:stream'
import { BrokerError, createLogger, type Logger, Secret } from '../../src/lib/index.js'
import type { RefreshedTokens, RefreshReason } from '../../src/oauth/token-response.js'
import type {
  AccountLockOptions,
  CredentialStore,
  StoredAccount,
} from '../../src/store/credential-store.js'

/** An in-memory store honouring the `CredentialStore` contract, with counters. */
export class TestStore implements CredentialStore {
  readonly #accounts = new Map<string, StoredAccount>()
  readonly #locks = new Map<string, Promise<void>>()
  /** How many times each operation ran. */
  readonly calls = { get: 0, update: 0, lock: 0 }

  list(): Promise<StoredAccount[]> {
    return Promise.resolve([...this.#accounts.values()].map(copy))
  }

  async get(id: string): Promise<StoredAccount | null> {
    this.calls.get += 1
    await tick()
    const account = this.#accounts.get(id)
    return account === undefined ? null : copy(account)
  }

  async put(account: StoredAccount): Promise<void> {
    await tick()
    this.#accounts.set(account.id, copy(account))
  }

  async update(
    id: string,
    change: (current: StoredAccount) => StoredAccount,
  ): Promise<StoredAccount> {
    this.calls.update += 1
    await tick()
    const current = this.#accounts.get(id)
    if (current === undefined) throw new BrokerError('ERR_NOT_FOUND', `no account ${id}`)
    const next = copy(change(copy(current)))
    this.#accounts.set(id, next)
    return copy(next)
  }

  remove(id: string): Promise<boolean> {
    return Promise.resolve(this.#accounts.delete(id))
  }

  async withAccountLock<T>(
    id: string,
    task: () => Promise<T>,
    _options?: AccountLockOptions,
  ): Promise<T> {
    this.calls.lock += 1
    for (let held = this.#locks.get(id); held !== undefined; held = this.#locks.get(id)) {
      await held
    }
    let release = () => {
      // replaced below
    }
    this.#locks.set(
      id,
      new Promise<void>((resolve) => {
        release = resolve
      }),
    )
    try {
      return await task()
    } finally {
      this.#locks.delete(id)
      release()
    }
  }

  /** The stored record, synchronously (for assertions). */
  peek(id: string): StoredAccount {
    const account = this.#accounts.get(id)
    if (account === undefined) throw new Error(`no account ${id}`)
    return copy(account)
  }
}

function copy(account: StoredAccount): StoredAccount {
  return { ...account, auth: { ...account.auth } }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A JWT-shaped token (unsigned: the manager reads claims without verifying, like PROTOCOL.md §5). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.c2ln`
}

/** One refresh request as the fake issuer saw it. */
export interface SentRefresh {
  refreshToken: string
  reason: RefreshReason
}

/** What the next refresh answers instead of tokens. */
export type InjectedFailure = BrokerError | 'omit-refresh-token'

let serial = 0

/** A fake issuer with strict rotation, driven by the test's clock. */
export class FakeIssuer {
  /** Every refresh request, in order. */
  readonly sent: SentRefresh[] = []
  /** Presentations of a spent refresh token. */
  reuseEvents = 0
  /** The lifetime of issued access tokens; null issues tokens without `exp`. */
  accessTtlMs: number | null = 3_600_000
  /** While set, every refresh waits for it before answering (to hold a refresh in flight). */
  gate: Promise<void> | null = null
  readonly #now: () => number
  readonly #refreshTokens = new Map<string, 'active' | 'used'>()
  readonly #failures: InjectedFailure[] = []

  constructor(now: () => number) {
    this.#now = now
  }

  /** The next refresh answers `failure` (queued in order). */
  inject(failure: InjectedFailure): void {
    this.#failures.push(failure)
  }

  /** Issues a token set for a sign-in. */
  mint(accountId: string): { idToken: string; accessToken: string; refreshToken: string } {
    serial += 1
    const now = this.#now()
    const auth = { chatgpt_account_id: accountId, chatgpt_plan_type: 'plus' }
    const exp =
      this.accessTtlMs === null ? {} : { exp: Math.floor((now + this.accessTtlMs) / 1000) }
    const refreshToken = `rt_${accountId}_${serial}_${Math.random().toString(36).slice(2)}`
    this.#refreshTokens.set(refreshToken, 'active')
    return {
      idToken: fakeJwt({ email: 'dev@example.com', 'https://api.openai.com/auth': auth, ...exp }),
      accessToken: fakeJwt({ jti: `at_${serial}`, 'https://api.openai.com/auth': auth, ...exp }),
      refreshToken,
    }
  }

  /** The manager's refresh function. */
  readonly refresh = async (
    refreshToken: Secret,
    reason: RefreshReason,
  ): Promise<RefreshedTokens> => {
    const token = refreshToken.reveal()
    this.sent.push({ refreshToken: token, reason })
    if (this.gate !== null) await this.gate
    const failure = this.#failures.shift()
    if (failure instanceof BrokerError) throw failure
    const state = this.#refreshTokens.get(token)
    if (state === undefined) throw new BrokerError('ERR_REFRESH_FAILED', 'unknown refresh token')
    if (state === 'used') {
      this.reuseEvents += 1
      throw new BrokerError('ERR_REFRESH_REUSED', 'refresh token already used')
    }
    // Without a new refresh token in the answer the old one stays valid (RFC 6749 §6).
    if (failure !== 'omit-refresh-token') this.#refreshTokens.set(token, 'used')
    const accountId = /^rt_(.+?)_\d+_/.exec(token)?.[1] ?? 'unknown'
    const minted = this.mint(accountId)
    if (failure === 'omit-refresh-token') this.#refreshTokens.delete(minted.refreshToken)
    return {
      idToken: Secret.from(minted.idToken),
      accessToken: Secret.from(minted.accessToken),
      refreshToken: failure === 'omit-refresh-token' ? null : Secret.from(minted.refreshToken),
    }
  }

  /** Sends with this exact refresh token. */
  sendsOf(refreshToken: string): number {
    return this.sent.filter((entry) => entry.refreshToken === refreshToken).length
  }
}

/** A stored ChatGPT account built from a minted token set. */
export function chatgptAccount(
  id: string,
  tokens: { idToken: string; accessToken: string; refreshToken: string },
  dates: { expiresAt: number | null; lastRefresh: number },
): StoredAccount {
  return {
    id,
    label: null,
    email: 'dev@example.com',
    plan: 'plus',
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(tokens.idToken),
      accessToken: Secret.from(tokens.accessToken),
      refreshToken: Secret.from(tokens.refreshToken),
      expiresAt: dates.expiresAt,
      lastRefresh: dates.lastRefresh,
    },
    status: 'active',
    statusReason: null,
    addedAt: dates.lastRefresh,
    lastUsedAt: null,
  }
}

/** The revealed credentials of a stored account, for byte-equal comparisons. */
export function revealed(account: StoredAccount): Record<string, unknown> {
  if (account.auth.kind === 'apiKey')
    return { kind: 'apiKey', apiKey: account.auth.apiKey.reveal() }
  const { auth } = account
  return {
    kind: 'chatgpt',
    idToken: auth.idToken.reveal(),
    accessToken: auth.accessToken.reveal(),
    refreshToken: auth.refreshToken.reveal(),
    expiresAt: auth.expiresAt,
    lastRefresh: auth.lastRefresh,
  }
}

/** A logger whose JSON lines are collected in `lines`. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      callback()
    },
  })
  return { logger: createLogger({ level: 'debug', destination }), lines }
}
