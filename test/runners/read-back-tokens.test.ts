/**
 * The read-back of a run's auth.json into the store, case by case (RT-style): a rotation is saved only over the
 * very refresh token that was lent (compare and swap), never over a newer one the broker stored meanwhile; an
 * unchanged, missing, linked, loose or foreign file changes nothing; the read-back takes the account lock.
 */
import { chmod, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { readBackTokens, tokensInAuthFile } from '../../src/runners/read-back-tokens.js'
import { CODEX_CLIENT_ID } from '../../src/sim/index.js'
import {
  exportCodexAuth,
  MemoryCredentialStore,
  type StoredAccount,
} from '../../src/store/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'

async function setup() {
  const sim = await useSimulator()
  const first = await signIn(sim, { email: 'alice@example.com' })
  // A second sign-in of the same account: a newer, valid chain, as the CLI's refresh would give.
  const second = await signIn(sim, { email: 'alice@example.com' })
  const other = await signIn(sim, { email: 'bob@example.com' })
  const store = new MemoryCredentialStore()
  const account = (tokens: typeof first, id = tokens.accountId): StoredAccount => ({
    id,
    label: null,
    email: tokens.email,
    plan: 'plus',
    auth: {
      kind: 'chatgpt',
      idToken: Secret.from(tokens.idToken),
      accessToken: Secret.from(tokens.accessToken),
      refreshToken: Secret.from(tokens.refreshToken),
      expiresAt: null,
      lastRefresh: 1,
    },
    status: 'active',
    statusReason: null,
    addedAt: 1,
    lastUsedAt: null,
  })
  const dir = await makeTempDir()
  const authFile = join(dir, 'auth.json')
  const writeAuth = async (tokens: typeof first): Promise<void> => {
    await writeFile(
      authFile,
      exportCodexAuth(account(tokens), { issuer: sim.issuer, clientId: CODEX_CLIENT_ID }),
      { mode: 0o600 },
    )
  }
  await store.put(account(first))
  const stored = async (): Promise<string> => {
    const found = await store.get(first.accountId)
    return found?.auth.kind === 'chatgpt' ? found.auth.refreshToken.reveal() : ''
  }
  return {
    sim,
    first,
    second,
    other,
    store,
    authFile,
    dir,
    writeAuth,
    account,
    stored,
    lent: Secret.from(first.refreshToken),
  }
}

describe('readBackTokens', () => {
  it('saves a rotation over the lent token: new tokens, active again, no refresh in flight', async () => {
    const t = await setup()
    await t.store.update(t.first.accountId, (current) => ({
      ...current,
      status: 'needs_login',
      statusReason: 'ERR_REFRESH_FAILED',
      refreshInFlightSince: 5,
    }))
    await t.writeAuth(t.second)
    const result = await readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: t.authFile,
      lent: t.lent,
    })
    expect(result.outcome).toBe('saved')
    expect(result.found?.refreshToken.reveal()).toBe(t.second.refreshToken)
    const saved = await t.store.get(t.first.accountId)
    expect(saved).toMatchObject({
      status: 'active',
      statusReason: null,
      refreshInFlightSince: null,
    })
    expect(await t.stored()).toBe(t.second.refreshToken)
    expect(saved?.auth.kind === 'chatgpt' && saved.auth.expiresAt).toBeGreaterThan(Date.now())
  })

  it('never overwrites a newer token the broker stored during the run (conflict)', async () => {
    const t = await setup()
    const newer = await signIn(t.sim, { email: 'alice@example.com' })
    await t.store.update(t.first.accountId, (current) => ({
      ...current,
      auth: { ...t.account(newer, t.first.accountId).auth },
    }))
    await t.writeAuth(t.second)
    const result = await readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: t.authFile,
      lent: t.lent,
    })
    expect(result.outcome).toBe('conflict')
    expect(await t.stored()).toBe(newer.refreshToken)
  })

  it('the same token as lent: unchanged, nothing written', async () => {
    const t = await setup()
    await t.writeAuth(t.first)
    const result = await readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: t.authFile,
      lent: t.lent,
    })
    expect(result).toEqual({ outcome: 'unchanged', found: null })
  })

  it('another account’s tokens are not taken (but reported for redaction)', async () => {
    const t = await setup()
    await t.writeAuth(t.other)
    const result = await readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: t.authFile,
      lent: t.lent,
    })
    expect(result.outcome).toBe('other_account')
    expect(result.found?.refreshToken.reveal()).toBe(t.other.refreshToken)
    expect(await t.stored()).toBe(t.first.refreshToken)
    expect(await t.store.get(t.other.accountId)).toBeNull()
  })

  it('a missing, garbled, linked or group-readable file changes nothing', async () => {
    const t = await setup()
    const read = () =>
      readBackTokens({
        store: t.store,
        accountId: t.first.accountId,
        authFile: t.authFile,
        lent: t.lent,
      })
    expect((await read()).outcome).toBe('missing')
    await writeFile(t.authFile, '{"auth_mode":"chatgpt","tokens":', { mode: 0o600 })
    expect((await read()).outcome).toBe('unreadable')
    await t.writeAuth(t.second)
    await chmod(t.authFile, 0o644)
    expect((await read()).outcome).toBe('unsafe')
    const real = join(t.dir, 'real.json')
    await writeFile(real, '{}', { mode: 0o600 })
    const linked = join(t.dir, 'linked.json')
    await symlink(real, linked)
    const viaLink = await readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: linked,
      lent: t.lent,
    })
    expect(viaLink.outcome).toBe('unsafe')
    expect(await t.stored()).toBe(t.first.refreshToken)
  })

  it('runs under the account lock: it waits for a holder, and saves after it', async () => {
    const t = await setup()
    await t.writeAuth(t.second)
    let release = (): void => undefined
    const held = t.store.withAccountLock(
      t.first.accountId,
      () => new Promise<void>((resolve) => (release = resolve)),
    )
    let done = false
    const readBack = readBackTokens({
      store: t.store,
      accountId: t.first.accountId,
      authFile: t.authFile,
      lent: t.lent,
    }).then((result) => {
      done = true
      return result
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(done).toBe(false)
    release()
    await held
    expect((await readBack).outcome).toBe('saved')
  })

  it('tokensInAuthFile: the current token strings, or none for a missing or broken file', async () => {
    const t = await setup()
    expect(await tokensInAuthFile(t.authFile)).toEqual([])
    await t.writeAuth(t.second)
    expect(await tokensInAuthFile(t.authFile)).toEqual([
      t.second.idToken,
      t.second.accessToken,
      t.second.refreshToken,
    ])
    await writeFile(t.authFile, 'garbage', { mode: 0o600 })
    expect(await tokensInAuthFile(t.authFile)).toEqual([])
  })
})
