/**
 * MemoryPoolStateStore: the contract (nothing shared, so the sibling parts are skipped) and the copy semantics of
 * `read()`.
 */
import { describe, expect, it } from 'vitest'
import { MemoryPoolStateStore } from '../../src/accounts/memory-pool-state-store.js'
import { describePoolStateStore, increment } from './pool-state-store-contract.js'

describePoolStateStore('MemoryPoolStateStore', (options = {}) =>
  Promise.resolve({
    store: new MemoryPoolStateStore(options.now === undefined ? {} : { now: options.now }),
    sibling: null,
    flushDelayMs: 0,
  }),
)

describe('MemoryPoolStateStore', () => {
  it('read() answers a snapshot that later updates do not change', async () => {
    const store = new MemoryPoolStateStore()
    await store.update('acc-1', increment)
    const before = await store.read()
    await store.update('acc-1', increment)
    await store.update('acc-2', increment)
    expect(before.get('acc-1')?.consecutiveFailures).toBe(1)
    expect(before.size).toBe(1)
    expect((await store.read()).get('acc-1')?.consecutiveFailures).toBe(2)
  })

  it('a change that throws rejects and leaves the record as it was', async () => {
    const store = new MemoryPoolStateStore()
    await store.update('acc-1', increment)
    await expect(
      store.update('acc-1', () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect((await store.read()).get('acc-1')?.consecutiveFailures).toBe(1)
  })
})
