import { describe, expect, it } from 'vitest'
import { ManualClock, isBrokerError } from '../../src/lib/index.js'
import { MemoryCredentialStore } from '../../src/store/index.js'
import { describeCredentialStore } from './credential-store-contract.js'
import { chatgptAccount, plain, rejectionOf } from './fixtures.js'

describeCredentialStore('MemoryCredentialStore', () =>
  Promise.resolve({ store: new MemoryCredentialStore(), sibling: null }),
)

describe('MemoryCredentialStore', () => {
  it('starts with copies of the given accounts', async () => {
    const account = chatgptAccount()
    const store = new MemoryCredentialStore({ accounts: [account] })
    account.label = 'changed outside'
    expect((await store.get(account.id))?.label).toBeNull()
    expect(plain(await store.get(account.id))).toEqual(plain({ ...account, label: null }))
  })

  it('times lock waits with the injected clock', async () => {
    const clock = new ManualClock(0)
    const store = new MemoryCredentialStore({ clock, lockTimeoutMs: 1_000 })
    let release: () => void = () => undefined
    const held = store.withAccountLock('acc', () => new Promise<void>((r) => (release = r)))
    const waiting = rejectionOf(store.withAccountLock('acc', () => Promise.resolve()))
    await Promise.resolve()
    clock.advance(1_000)
    const error = await waiting
    expect(isBrokerError(error, 'ERR_LOCK_TIMEOUT'), String(error)).toBe(true)
    release()
    await held
  })
})
