import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  ACCOUNTS_FILE_VERSION,
  decodeAccountsFile,
  encodeAccount,
  encodeAccountsFile,
  parseAccountRecord,
} from '../../src/store/account-codec.js'
import { EncryptionKey } from '../../src/store/encryption.js'
import { apiKeyAccount, chatgptAccount, plain, secretsOf } from './fixtures.js'

const path = '/home/me/.codex-broker/accounts.json'

function thrown(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('account codec', () => {
  it('round-trips accounts; timestamps are ISO strings on disk and unix ms in memory', () => {
    const accounts = [
      chatgptAccount({ lastUsedAt: Date.parse('2026-03-04T05:06:07.890Z'), label: 'main' }),
      chatgptAccount({ status: 'needs_login', statusReason: 'ERR_REFRESH_REUSED' }),
      apiKeyAccount(),
    ]
    const first = accounts[0]
    if (first?.auth.kind === 'chatgpt') first.auth.expiresAt = null
    const text = encodeAccountsFile(accounts)
    const json = JSON.parse(text) as { version: number; accounts: Record<string, unknown>[] }
    expect(json.version).toBe(ACCOUNTS_FILE_VERSION)
    expect(json.accounts[0]).toMatchObject({
      lastUsedAt: '2026-03-04T05:06:07.890Z',
      addedAt: expect.stringMatching(/^2026-01-01T00:00:00\.\d{3}Z$/) as unknown,
      auth: { kind: 'chatgpt', expiresAt: null, lastRefresh: '2026-01-01T00:00:00.000Z' },
    })
    expect(Object.keys(json.accounts[0] ?? {})).toEqual([
      'id',
      'label',
      'email',
      'plan',
      'auth',
      'status',
      'statusReason',
      'addedAt',
      'lastUsedAt',
    ])
    expect(text.endsWith('}\n')).toBe(true)
    expect(decodeAccountsFile(text, { path }).map(plain)).toEqual(accounts.map(plain))
  })

  it('fills the nullable fields a hand-written file omits', () => {
    const text = JSON.stringify({
      version: 1,
      accounts: [
        {
          id: 'apikey-1',
          auth: { kind: 'apiKey', apiKey: 'sk-test' },
          status: 'active',
          addedAt: '2026-01-01T00:00:00Z',
        },
      ],
    })
    const [account] = decodeAccountsFile(text, { path })
    expect(account).toMatchObject({
      label: null,
      email: null,
      plan: null,
      statusReason: null,
      lastUsedAt: null,
      refreshInFlightSince: null,
    })
    expect(account?.addedAt).toBe(Date.parse('2026-01-01T00:00:00Z'))
  })

  it('reads a file written before refreshInFlightSince existed with no refresh in flight', () => {
    const old = chatgptAccount({ lastUsedAt: Date.parse('2026-03-04T05:06:07.890Z') })
    const json = JSON.parse(encodeAccountsFile([old])) as { accounts: Record<string, unknown>[] }
    // what older versions wrote: exactly these fields
    expect(Object.keys(json.accounts[0] ?? {})).not.toContain('refreshInFlightSince')
    const [account] = decodeAccountsFile(JSON.stringify(json), { path })
    expect(account?.refreshInFlightSince).toBeNull()
    expect(plain(account ?? null)).toEqual(plain(old))
    const record = encodeAccount(old)
    expect('refreshInFlightSince' in record).toBe(false)
    expect(parseAccountRecord(record, old.id, 'key x').refreshInFlightSince).toBeNull()
  })

  it('writes refreshInFlightSince as a top-level ISO timestamp, outside an encrypted auth, only while set', () => {
    const key = EncryptionKey.generate()
    const since = Date.parse('2026-05-06T07:08:09.010Z')
    const marked = chatgptAccount({ refreshInFlightSince: since })
    const text = encodeAccountsFile([marked, chatgptAccount()], { encryption: key })
    const json = JSON.parse(text) as { accounts: Record<string, unknown>[] }
    expect(json.accounts[0]?.refreshInFlightSince).toBe('2026-05-06T07:08:09.010Z')
    expect(Object.keys(json.accounts[0] ?? {}).at(-1)).toBe('refreshInFlightSince')
    expect(json.accounts[1]).not.toHaveProperty('refreshInFlightSince')
    const decoded = decodeAccountsFile(text, { path, encryption: key })
    expect(decoded.map((account) => account.refreshInFlightSince)).toEqual([since, null])
    expect(plain(decoded[0] ?? null)).toEqual(plain(marked))
    expect(parseAccountRecord(encodeAccount(marked), marked.id, 'key x').refreshInFlightSince).toBe(
      since,
    )
    const bad = { ...json.accounts[0], refreshInFlightSince: 'yesterday' }
    const error = thrown(() =>
      decodeAccountsFile(JSON.stringify({ version: 1, accounts: [bad] }), {
        path,
        encryption: key,
      }),
    )
    expect(isBrokerError(error, 'ERR_CORRUPT_STORE')).toBe(true)
    expect(error.message).toContain('accounts[0].refreshInFlightSince')
  })

  it('reports invalid JSON without quoting the content', () => {
    const account = chatgptAccount()
    const text = encodeAccountsFile([account]).slice(0, -20)
    const error = thrown(() => decodeAccountsFile(text, { path }))
    expect(isBrokerError(error, 'ERR_CORRUPT_STORE')).toBe(true)
    expect(error.message).toContain(path)
    expect(error.message).toContain('not valid JSON')
    expect(error.message).toContain('Nothing was overwritten')
    expect(error.message).toContain(`cp ${path}.bak ${path}`)
    expect(error.message).toContain(`mv ${path} ${path}.broken`)
    for (const secret of secretsOf(account)) expect(error.message).not.toContain(secret)
    expect(error.cause).toBeUndefined()
    expect(thrown(() => decodeAccountsFile('  \n', { path })).message).toContain(
      'the file is empty',
    )
  })

  it('names what is wrong in a structurally bad file', () => {
    const good = JSON.parse(encodeAccountsFile([chatgptAccount()])) as {
      accounts: Record<string, unknown>[]
    }
    const cases: [unknown, string][] = [
      [[], 'the top level'],
      [{ accounts: [] }, 'version'],
      [{ version: '1', accounts: [] }, 'version'],
      [
        { version: 1, accounts: [{ ...good.accounts[0], status: 'sleeping' }] },
        'accounts[0].status',
      ],
      [
        { version: 1, accounts: [{ ...good.accounts[0], auth: { kind: 'chatgpt' } }] },
        'accounts[0].auth.idToken',
      ],
      [
        { version: 1, accounts: [{ ...good.accounts[0], auth: { kind: 'password' } }] },
        'accounts[0].auth',
      ],
      [{ version: 1, accounts: [good.accounts[0], good.accounts[0]] }, 'repeats the account id'],
    ]
    for (const [json, fragment] of cases) {
      const error = thrown(() => decodeAccountsFile(JSON.stringify(json), { path }))
      expect(isBrokerError(error, 'ERR_CORRUPT_STORE'), String(error)).toBe(true)
      expect(error.message).toContain(fragment)
    }
  })

  it('asks to upgrade for a newer format version', () => {
    const error = thrown(() =>
      decodeAccountsFile(JSON.stringify({ version: 7, accounts: 'new shape' }), { path }),
    )
    expect(isBrokerError(error, 'ERR_CORRUPT_STORE')).toBe(true)
    expect(error.message).toContain('newer codex-broker (format version 7')
    expect(error.message).toContain('Upgrade codex-broker')
    expect(error.message).toContain('Nothing was overwritten')
  })

  it('with a key: encrypts each auth (bound to its id), keeps the rest readable, and decodes back', () => {
    const key = EncryptionKey.generate()
    const accounts = [chatgptAccount(), apiKeyAccount()]
    const text = encodeAccountsFile(accounts, { encryption: key })
    for (const secret of accounts.flatMap(secretsOf)) expect(text).not.toContain(secret)
    for (const account of accounts) expect(text).toContain(account.id)
    expect(decodeAccountsFile(text, { path, encryption: key }).map(plain)).toEqual(
      accounts.map(plain),
    )

    const json = JSON.parse(text) as { accounts: { auth: unknown }[] }
    const [a, b] = json.accounts
    if (a === undefined || b === undefined) throw new Error('unreachable')
    ;[a.auth, b.auth] = [b.auth, a.auth]
    const swapped = thrown(() =>
      decodeAccountsFile(JSON.stringify(json), { path, encryption: key }),
    )
    expect(isBrokerError(swapped, 'ERR_CORRUPT_STORE'), String(swapped)).toBe(true)

    const wrong = thrown(() =>
      decodeAccountsFile(text, { path, encryption: EncryptionKey.generate() }),
    )
    expect(isBrokerError(wrong, 'ERR_WRONG_KEY')).toBe(true)
    const none = thrown(() => decodeAccountsFile(text, { path }))
    expect(isBrokerError(none, 'ERR_WRONG_KEY')).toBe(true)
  })

  it('parseAccountRecord checks the record belongs to the id', () => {
    const account = chatgptAccount()
    const record = encodeAccount(account)
    expect(plain(parseAccountRecord(record, account.id, 'key x'))).toEqual(plain(account))
    expect(
      isBrokerError(
        thrown(() => parseAccountRecord(record, 'other', 'key x')),
        'ERR_CORRUPT_STORE',
      ),
    ).toBe(true)
    expect(
      isBrokerError(
        thrown(() => parseAccountRecord({ id: account.id }, account.id, 'key x')),
        'ERR_CORRUPT_STORE',
      ),
    ).toBe(true)
  })
})
