/**
 * The `CredentialStore` contract as one shared suite, run against every implementation (memory, file, Redis):
 * `describeCredentialStore(name, open)`. `open` gives a fresh, empty store and, for stores with a shared backing
 * (file, Redis), a way to make a second instance over the same data — the cross-instance cases (another writer's
 * change is seen at once, concurrent writers lose nothing, the account lock excludes across instances) run only
 * then.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Secret, isBrokerError } from '../../src/lib/index.js'
import type { CredentialStore, StoredAccount } from '../../src/store/index.js'
import { apiKeyAccount, chatgptAccount, chatgptAuthOf, plain, rejectionOf } from './fixtures.js'

/** What a store factory hands the suite. */
export interface OpenedStore {
  readonly store: CredentialStore
  /** Another instance over the same backing data, when the store has one. */
  readonly sibling: (() => CredentialStore) | null
}

function bumpLabel(account: StoredAccount): StoredAccount {
  return { ...account, label: String(Number(account.label ?? '0') + 1) }
}

/** Runs the contract suite against stores made by `open` (called once per test). */
export function describeCredentialStore(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name}: CredentialStore contract`, () => {
    it('starts empty and answers null for an unknown id', async () => {
      const { store } = await open()
      expect(await store.list()).toEqual([])
      expect(await store.get('nobody')).toBeNull()
    })

    it('round-trips ChatGPT and API-key accounts with every field', async () => {
      const { store } = await open()
      const chatgpt = chatgptAccount({
        label: 'work',
        status: 'needs_login',
        statusReason: 'ERR_REFRESH_REUSED',
        lastUsedAt: Date.parse('2026-02-03T04:05:06.789Z'),
        refreshInFlightSince: Date.parse('2026-02-03T04:05:07.001Z'),
      })
      const key = apiKeyAccount()
      await store.put(chatgpt)
      await store.put(key)
      const read = await store.get(chatgpt.id)
      expect(plain(read)).toEqual(plain(chatgpt))
      expect(plain(await store.get(key.id))).toEqual(plain(key))
      expect(read === null ? null : chatgptAuthOf(read).refreshToken).toBeInstanceOf(Secret)
    })

    it('round-trips refreshInFlightSince: set, read back fresh, cleared', async () => {
      const { store, sibling } = await open()
      const account = chatgptAccount()
      await store.put(account)
      // a fresh read: another instance over the same data when there is one
      const fresh = sibling === null ? store : sibling()
      expect((await fresh.get(account.id))?.refreshInFlightSince).toBeNull()
      const since = Date.parse('2026-02-03T04:05:06.789Z')
      const marked = await store.update(account.id, (current) => ({
        ...current,
        refreshInFlightSince: since,
      }))
      expect(marked.refreshInFlightSince).toBe(since)
      const read = await fresh.get(account.id)
      expect(read?.refreshInFlightSince).toBe(since)
      expect(read?.statusReason).toBeNull()
      expect((await fresh.list()).find((a) => a.id === account.id)?.refreshInFlightSince).toBe(
        since,
      )
      await store.update(account.id, (current) => ({ ...current, refreshInFlightSince: null }))
      const cleared = await fresh.get(account.id)
      expect(cleared?.refreshInFlightSince).toBeNull()
      expect(plain(cleared)).toEqual(plain(account))
    })

    it('keeps accounts in the order they were added, and put replaces in place', async () => {
      const { store } = await open()
      const accounts = [chatgptAccount(), apiKeyAccount(), chatgptAccount()]
      for (const account of accounts) await store.put(account)
      const [, second] = accounts
      if (second === undefined) throw new Error('unreachable')
      await store.put({ ...second, label: 'renamed' })
      const listed = await store.list()
      expect(listed.map((account) => account.id)).toEqual(accounts.map((account) => account.id))
      expect(listed[1]?.label).toBe('renamed')
    })

    it('update applies the change to the fresh value and returns it', async () => {
      const { store } = await open()
      const account = chatgptAccount()
      await store.put(account)
      const updated = await store.update(account.id, (current) => ({
        ...current,
        auth: { ...chatgptAuthOf(current), refreshToken: Secret.from('CANARY_RT_rotated') },
      }))
      expect(chatgptAuthOf(updated).refreshToken.reveal()).toBe('CANARY_RT_rotated')
      const read = await store.get(account.id)
      expect(read === null ? null : chatgptAuthOf(read).refreshToken.reveal()).toBe(
        'CANARY_RT_rotated',
      )
    })

    it('update of a missing account throws ERR_NOT_FOUND', async () => {
      const { store } = await open()
      const error = await rejectionOf(store.update('missing', (current) => current))
      expect(isBrokerError(error, 'ERR_NOT_FOUND'), String(error)).toBe(true)
    })

    it('a throwing change leaves the account unchanged', async () => {
      const { store } = await open()
      const account = chatgptAccount()
      await store.put(account)
      const error = await rejectionOf(
        store.update(account.id, () => {
          throw new Error('change failed')
        }),
      )
      expect((error as Error).message).toBe('change failed')
      expect(plain(await store.get(account.id))).toEqual(plain(account))
    })

    it('update cannot change the account id', async () => {
      const { store } = await open()
      const account = chatgptAccount()
      await store.put(account)
      const error = await rejectionOf(
        store.update(account.id, (current) => ({ ...current, id: 'other' })),
      )
      expect(isBrokerError(error, 'ERR_INVALID_REQUEST'), String(error)).toBe(true)
      expect(await store.get('other')).toBeNull()
    })

    it('remove answers whether the account existed', async () => {
      const { store } = await open()
      const [a, b] = [chatgptAccount(), apiKeyAccount()]
      await store.put(a)
      await store.put(b)
      expect(await store.remove(a.id)).toBe(true)
      expect(await store.remove(a.id)).toBe(false)
      expect((await store.list()).map((account) => account.id)).toEqual([b.id])
    })

    it('hands out copies: mutating what goes in or comes out does not change the store', async () => {
      const { store } = await open()
      const account = chatgptAccount()
      const original = plain(account)
      await store.put(account)
      account.label = 'mutated after put'
      chatgptAuthOf(account).expiresAt = 1
      const read = await store.get(account.id)
      if (read === null) throw new Error('missing')
      read.email = 'mutated@example.com'
      chatgptAuthOf(read).lastRefresh = 2
      const [listed] = await store.list()
      if (listed !== undefined) listed.status = 'disabled'
      expect(plain(await store.get(account.id))).toEqual(original)
    })

    it('concurrent updates of one account and of many accounts lose nothing', async () => {
      const { store } = await open()
      const accounts = Array.from({ length: 5 }, () => chatgptAccount({ label: '0' }))
      for (const account of accounts) await store.put(account)
      await Promise.all(
        accounts.flatMap((account) =>
          Array.from({ length: 8 }, () => store.update(account.id, bumpLabel)),
        ),
      )
      for (const account of accounts) expect((await store.get(account.id))?.label).toBe('8')
    })

    it('withAccountLock runs tasks one at a time per account and returns their value', async () => {
      const { store } = await open()
      let inside = 0
      let most = 0
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          store.withAccountLock('acc-lock', async () => {
            inside += 1
            most = Math.max(most, inside)
            await delay(2)
            inside -= 1
            return index
          }),
        ),
      )
      expect(most).toBe(1)
      expect(results).toEqual(Array.from({ length: 10 }, (_, index) => index))
    })

    it('withAccountLock releases after a failing task and does not block other accounts', async () => {
      const { store } = await open()
      const failure = await rejectionOf(
        store.withAccountLock('acc-a', () => Promise.reject(new Error('task failed'))),
      )
      expect((failure as Error).message).toBe('task failed')
      let release: () => void = () => undefined
      const held = store.withAccountLock(
        'acc-a',
        () => new Promise<void>((resolve) => (release = resolve)),
      )
      await delay(20)
      expect(await store.withAccountLock('acc-b', () => Promise.resolve('other account'))).toBe(
        'other account',
      )
      const timedOut = await rejectionOf(
        store.withAccountLock('acc-a', () => Promise.resolve('never'), { timeoutMs: 100 }),
      )
      expect(isBrokerError(timedOut, 'ERR_LOCK_TIMEOUT'), String(timedOut)).toBe(true)
      expect((timedOut as Error).message).toContain('acc-a')
      release()
      await held
      expect(await store.withAccountLock('acc-a', () => Promise.resolve('free again'))).toBe(
        'free again',
      )
    })

    describe('across two instances over the same data', () => {
      it("each read sees the other instance's latest write", async () => {
        const { store, sibling } = await open()
        if (sibling === null) return
        const other = sibling()
        const account = chatgptAccount()
        await store.put(account)
        expect(plain(await other.get(account.id))).toEqual(plain(account))
        await other.update(account.id, (current) => ({ ...current, label: 'from the other' }))
        expect((await store.get(account.id))?.label).toBe('from the other')
        await other.remove(account.id)
        expect(await store.list()).toEqual([])
      })

      it('concurrent updates of different accounts from both instances lose nothing', async () => {
        const { store, sibling } = await open()
        if (sibling === null) return
        const other = sibling()
        const accounts = Array.from({ length: 6 }, () => chatgptAccount({ label: '0' }))
        for (const account of accounts) await store.put(account)
        await Promise.all(
          accounts.flatMap((account, index) =>
            Array.from({ length: 6 }, (_, round) =>
              ((index + round) % 2 === 0 ? store : other).update(account.id, bumpLabel),
            ),
          ),
        )
        for (const account of accounts) expect((await other.get(account.id))?.label).toBe('6')
      })

      it('the account lock excludes across instances', async () => {
        const { store, sibling } = await open()
        if (sibling === null) return
        const other = sibling()
        let inside = 0
        let most = 0
        await Promise.all(
          Array.from({ length: 8 }, (_, index) =>
            (index % 2 === 0 ? store : other).withAccountLock('acc-shared', async () => {
              inside += 1
              most = Math.max(most, inside)
              await delay(3)
              inside -= 1
            }),
          ),
        )
        expect(most).toBe(1)
      })
    })
  })
}
