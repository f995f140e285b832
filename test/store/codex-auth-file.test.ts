import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { parseAccessTokenClaims } from '../../src/oauth/claims.js'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import {
  CODEX_EXPORT_WARNING,
  CODEX_IMPORT_WARNING,
  exportCodexAuth,
  importCodexAuth,
  writeCodexAuthFile,
} from '../../src/store/index.js'
import { useSimulator } from '../support/sim.js'
import { type SignedInAccount, signIn } from '../support/sim-tokens.js'
import {
  apiKeyAccount,
  chatgptAuthOf,
  makeTempDir,
  modeOf,
  plain,
  rejectionOf,
} from './fixtures.js'

const NOW = Date.parse('2026-05-01T12:00:00.000Z')

/** The official CLI's auth.json (PROTOCOL.md §6) for a signed-in simulator account. */
function authJson(signed: SignedInAccount, issuer: string, lastRefresh: string): unknown {
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens: {
      id_token: signed.idToken,
      access_token: signed.accessToken,
      refresh_token: signed.refreshToken,
      account_id: signed.accountId,
      oauth_provenance: { issuer, client_id: CODEX_CLIENT_ID },
    },
    last_refresh: lastRefresh,
  }
}

async function writeJson(path: string, value: unknown, mode = 0o600): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2), { mode })
  await chmod(path, mode)
}

describe('importCodexAuth', () => {
  it('imports a ChatGPT auth.json: id, email and plan from the id token, expiry from the access token', async () => {
    const sim = await useSimulator()
    const signed = await signIn(sim, { email: 'ada@example.com', plan: 'pro' })
    const file = join(await makeTempDir(), 'auth.json')
    await writeJson(file, authJson(signed, sim.issuer, '2026-04-30T10:00:00.123456789Z'))

    const { accounts, warnings } = await importCodexAuth(file, { now: NOW })
    expect(warnings).toEqual([])
    expect(accounts).toHaveLength(1)
    const [account] = accounts
    if (account === undefined) throw new Error('unreachable')
    expect(account).toMatchObject({
      id: signed.accountId,
      email: 'ada@example.com',
      plan: 'pro',
      status: 'active',
      statusReason: null,
      label: null,
      addedAt: NOW,
      lastUsedAt: null,
    })
    const auth = chatgptAuthOf(account)
    expect(auth.idToken.reveal()).toBe(signed.idToken)
    expect(auth.accessToken.reveal()).toBe(signed.accessToken)
    expect(auth.refreshToken.reveal()).toBe(signed.refreshToken)
    expect(auth.expiresAt).toBe(parseAccessTokenClaims(signed.accessToken).expiresAt)
    expect(auth.expiresAt).toBeGreaterThan(Date.now())
    expect(auth.lastRefresh).toBe(Date.parse('2026-04-30T10:00:00.123Z'))
  })

  it('reads a file other users can read, with a warning carrying the chmod fix', async () => {
    const sim = await useSimulator()
    const signed = await signIn(sim, { email: 'loose@example.com' })
    const file = join(await makeTempDir(), 'auth.json')
    await writeJson(file, authJson(signed, sim.issuer, '2026-04-30T10:00:00Z'), 0o644)
    const { accounts, warnings } = await importCodexAuth(file, { now: NOW })
    expect(accounts).toHaveLength(1)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('mode 0644')
    expect(warnings[0]).toContain(`chmod 600 ${file}`)
  })

  it('imports a folder: every auth.json, deduplicated by account keeping the newest last_refresh', async () => {
    const sim = await useSimulator()
    const first = await signIn(sim, { email: 'one@example.com' })
    const firstAgain = await signIn(sim, { email: 'one@example.com' })
    const second = await signIn(sim, { email: 'two@example.com', plan: 'team' })
    const dir = await makeTempDir()
    await writeJson(join(dir, 'a-old.json'), authJson(first, sim.issuer, '2026-04-01T00:00:00Z'))
    await writeJson(
      join(dir, 'b-new.json'),
      authJson(firstAgain, sim.issuer, '2026-04-20T00:00:00Z'),
    )
    await writeJson(join(dir, 'c.json'), authJson(second, sim.issuer, '2026-04-10T00:00:00Z'))
    await writeJson(join(dir, 'config.json'), { theme: 'dark' })
    await writeFile(join(dir, 'notes.txt'), 'not json at all')
    await mkdir(join(dir, 'nested.json'))

    const { accounts, warnings } = await importCodexAuth(dir, { now: NOW })
    expect(accounts.map((account) => account.email)).toEqual(['one@example.com', 'two@example.com'])
    const kept = accounts[0]
    if (kept === undefined) throw new Error('unreachable')
    expect(chatgptAuthOf(kept).refreshToken.reveal()).toBe(firstAgain.refreshToken)
    expect(accounts[1]?.plan).toBe('team')
    expect(warnings.some((w) => w.includes('config.json') && w.startsWith('Skipped'))).toBe(true)
    expect(warnings.some((w) => w.includes('a-old.json') && w.includes('same account'))).toBe(true)
    expect(warnings.join('\n')).not.toContain('notes.txt')
  })

  it('imports API-key mode with a stable id', async () => {
    const dir = await makeTempDir()
    const file = join(dir, 'auth.json')
    await writeJson(file, { auth_mode: 'apikey', OPENAI_API_KEY: 'sk-proj-CANARYimportedkey123' })
    const { accounts } = await importCodexAuth(file, { now: NOW })
    const [account] = accounts
    expect(account?.id).toMatch(/^apikey-[0-9a-f]{16}$/)
    expect(account?.auth.kind).toBe('apiKey')
    expect(account?.auth.kind === 'apiKey' ? account.auth.apiKey.reveal() : null).toBe(
      'sk-proj-CANARYimportedkey123',
    )
    const again = await importCodexAuth(file, { now: NOW })
    expect(again.accounts[0]?.id).toBe(account?.id)
  })

  it('reads the older files without auth_mode by their content', async () => {
    const sim = await useSimulator()
    const signed = await signIn(sim, { email: 'legacy@example.com' })
    const file = join(await makeTempDir(), 'auth.json')
    const legacy = authJson(signed, sim.issuer, '2026-04-30T10:00:00Z') as Record<string, unknown>
    delete legacy.auth_mode
    await writeJson(file, legacy)
    const { accounts } = await importCodexAuth(file, { now: NOW })
    expect(accounts[0]?.id).toBe(signed.accountId)
  })

  it('refuses malformed files clearly without quoting tokens', async () => {
    const dir = await makeTempDir()
    const cases: [string, string][] = [
      ['{"auth_mode": "chatgpt", "tokens": {"refresh_token": "CANARY_RT_broken', 'not valid JSON'],
      [JSON.stringify({ auth_mode: 'chatgpt', OPENAI_API_KEY: null }), 'no tokens'],
      [JSON.stringify({ auth_mode: 'magic' }), 'unknown auth_mode'],
      [JSON.stringify({}), 'neither tokens nor an API key'],
      [
        JSON.stringify({
          auth_mode: 'chatgpt',
          tokens: {
            id_token: 'CANARY_ID_x',
            access_token: 'CANARY_AT_x',
            refresh_token: 'CANARY_RT_x',
          },
        }),
        'not a readable JWT',
      ],
      [JSON.stringify({ tokens: { id_token: 5 } }), 'tokens.id_token'],
    ]
    for (const [index, [text, fragment]] of cases.entries()) {
      const file = join(dir, `bad-${index}.json`)
      await writeFile(file, text, { mode: 0o600 })
      const error = await rejectionOf(importCodexAuth(file))
      expect(isBrokerError(error, 'ERR_INVALID_REQUEST'), String(error)).toBe(true)
      const message = (error as Error).message
      expect(message).toContain(file)
      expect(message).toContain(fragment)
      expect(message).not.toContain('CANARY')
    }
    expect(
      isBrokerError(await rejectionOf(importCodexAuth(join(dir, 'absent.json'))), 'ERR_NOT_FOUND'),
    ).toBe(true)
    const empty = join(dir, 'empty')
    await mkdir(empty)
    expect(isBrokerError(await rejectionOf(importCodexAuth(empty)), 'ERR_NOT_FOUND')).toBe(true)
  })

  it('says plainly that only one program may refresh the chain', () => {
    expect(CODEX_IMPORT_WARNING).toContain('codex-broker owns the refresh chain')
    expect(CODEX_IMPORT_WARNING).toContain('log each other out')
    expect(CODEX_EXPORT_WARNING).toContain('log each other out')
  })
})

describe('exportCodexAuth', () => {
  it('writes exactly the §6 shape, 0600, and import(export(x)) gives x back', async () => {
    const sim = await useSimulator()
    const signed = await signIn(sim, { email: 'export@example.com', plan: 'plus' })
    const dir = await makeTempDir()
    const source = join(dir, 'source.json')
    await writeJson(source, authJson(signed, sim.issuer, '2026-04-30T10:00:00.000Z'))
    const {
      accounts: [account],
    } = await importCodexAuth(source, { now: NOW })
    if (account === undefined) throw new Error('unreachable')

    const text = exportCodexAuth(account, { issuer: sim.issuer, clientId: CODEX_CLIENT_ID })
    expect(text).toBe(
      JSON.stringify(authJson(signed, sim.issuer, '2026-04-30T10:00:00.000Z'), null, 2),
    )
    const json = JSON.parse(text) as Record<string, Record<string, unknown>>
    expect(Object.keys(json)).toEqual(['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh'])
    expect(Object.keys(json.tokens ?? {})).toEqual([
      'id_token',
      'access_token',
      'refresh_token',
      'account_id',
      'oauth_provenance',
    ])

    const target = join(dir, 'codex', 'auth.json')
    await mkdir(join(dir, 'codex'))
    await writeCodexAuthFile(target, account, { issuer: sim.issuer, clientId: CODEX_CLIENT_ID })
    expect(await modeOf(target)).toBe(0o600)
    expect(await readFile(target, 'utf8')).toBe(text)
    const back = await importCodexAuth(target, { now: NOW })
    expect(back.accounts.map(plain)).toEqual([plain(account)])
  })

  it('writes the API-key form', async () => {
    const account = apiKeyAccount()
    const text = exportCodexAuth(account, {
      issuer: 'https://auth.openai.com',
      clientId: CODEX_CLIENT_ID,
    })
    expect(JSON.parse(text)).toEqual({
      auth_mode: 'apikey',
      OPENAI_API_KEY: account.auth.kind === 'apiKey' ? account.auth.apiKey.reveal() : null,
    })
    const file = join(await makeTempDir(), 'auth.json')
    await writeCodexAuthFile(file, account, { issuer: 'x', clientId: 'y' })
    const { accounts } = await importCodexAuth(file, { now: NOW })
    expect(accounts[0]?.auth.kind).toBe('apiKey')
  })
})
