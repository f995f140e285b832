/**
 * The `PoolStateStore` contract, run against every implementation: records round-trip, changes start from an
 * empty record, urgent updates reach a sibling store (another process's view of the same home or Redis) as soon as
 * they resolve, batched updates are seen here at once and there after the flush, concurrent writers lose nothing,
 * and pinning, forgetting and closing behave.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import type { AccountHealth, PoolStateStore } from '../../src/accounts/types.js'
import type { QuotaSnapshot } from '../../src/upstream/index.js'

/** What a contract run needs of one implementation. */
export interface PoolStateHarness {
  readonly store: PoolStateStore
  /** Another store over the same shared state, or null when nothing is shared (memory). */
  readonly sibling: (() => PoolStateStore) | null
  /** The batching delay the stores were made with. */
  readonly flushDelayMs: number
}

/** Options every harness honours. */
export interface PoolStateHarnessOptions {
  readonly now?: () => number
  /** A batching delay other than the harness's default. */
  readonly flushDelayMs?: number
}

/** A full record with a quota reading, distinct per `accountId`. */
export function sampleHealth(
  accountId: string,
  overrides: Partial<AccountHealth> = {},
): AccountHealth {
  const quota: QuotaSnapshot = {
    primary: { usedPercent: 42.5, windowMinutes: 300, resetsAt: 1_800_000_000_000 },
    secondary: { usedPercent: 7, windowMinutes: 10_080, resetsAt: null },
    credits: { hasCredits: true, unlimited: false, balance: '12.50' },
    observedAt: 1_799_999_000_000,
  }
  const health: AccountHealth = {
    accountId,
    quota,
    cooldownUntil: 1_800_000_100_000,
    cooldownReason: 'usage_limit',
    consecutiveFailures: 2,
    circuitOpenedAt: 1_799_999_500_000,
    circuitOpenUntil: 1_799_999_530_000,
    lastSuccessAt: 1_799_999_000_000,
    lastFailureAt: 1_799_999_400_000,
    updatedAt: 1_799_999_600_000,
    ...overrides,
  }
  return health
}

/** The change every concurrency test applies. */
export function increment(health: AccountHealth): AccountHealth {
  return { ...health, consecutiveFailures: health.consecutiveFailures + 1 }
}

/** Registers the contract tests for one implementation. */
export function describePoolStateStore(
  name: string,
  make: (options?: PoolStateHarnessOptions) => Promise<PoolStateHarness>,
): void {
  describe(`${name} (PoolStateStore contract)`, () => {
    it('starts empty, with nothing pinned', async () => {
      const { store } = await make()
      expect((await store.read()).size).toBe(0)
      expect(await store.pinned()).toBeNull()
      await store.close()
    })

    it('gives a change an empty record stamped with now() when the account has none', async () => {
      const { store } = await make({ now: () => 1_234 })
      let seen: AccountHealth | undefined
      const result = await store.update(
        'acc-new',
        (current) => {
          seen = current
          return increment(current)
        },
        { urgent: true },
      )
      expect(seen).toEqual({
        accountId: 'acc-new',
        quota: null,
        cooldownUntil: null,
        cooldownReason: null,
        consecutiveFailures: 0,
        circuitOpenedAt: null,
        circuitOpenUntil: null,
        lastSuccessAt: null,
        lastFailureAt: null,
        updatedAt: 1_234,
      })
      expect(result.consecutiveFailures).toBe(1)
      await store.close()
    })

    it('round-trips a full record, including its quota snapshot', async () => {
      const { store, sibling } = await make()
      const record = sampleHealth('acc-1')
      expect(await store.update('acc-1', () => record, { urgent: true })).toEqual(record)
      expect((await store.read()).get('acc-1')).toEqual(record)
      const other = sibling?.()
      if (other !== undefined) {
        expect((await other.read()).get('acc-1')).toEqual(record)
        await other.close()
      }
      // The next change starts from the stored record.
      const next = await store.update('acc-1', increment, { urgent: true })
      expect(next).toEqual({ ...record, consecutiveFailures: 3 })
      await store.close()
    })

    it('an urgent update is visible to a sibling as soon as it resolves', async () => {
      const harness = await make()
      if (harness.sibling === null) return
      const other = harness.sibling()
      expect((await other.read()).get('acc-1')).toBeUndefined()
      await harness.store.update('acc-1', () => sampleHealth('acc-1'), { urgent: true })
      const fresh = harness.sibling()
      expect((await fresh.read()).get('acc-1')?.cooldownUntil).toBe(1_800_000_100_000)
      await Promise.all([harness.store.close(), other.close(), fresh.close()])
    })

    it('a non-urgent update is seen here at once and by a sibling after the flush delay', async () => {
      // Long enough that the early look cannot race the flush on a loaded machine.
      const { store, sibling, flushDelayMs } = await make({ flushDelayMs: 300 })
      const result = await store.update('acc-1', increment)
      expect(result.consecutiveFailures).toBe(1)
      expect((await store.read()).get('acc-1')?.consecutiveFailures).toBe(1)
      if (sibling !== null) {
        const early = sibling()
        expect((await early.read()).get('acc-1')).toBeUndefined()
        await delay(flushDelayMs * 2 + 100)
        const late = sibling()
        expect((await late.read()).get('acc-1')?.consecutiveFailures).toBe(1)
        await Promise.all([early.close(), late.close()])
      }
      await store.close()
    })

    it('an urgent update writes the queued ones first', async () => {
      const { store, sibling } = await make()
      await store.update('acc-queued', increment)
      await store.update('acc-queued', increment)
      await store.update('acc-urgent', increment, { urgent: true })
      const view = sibling === null ? store : sibling()
      const records = await view.read()
      expect(records.get('acc-queued')?.consecutiveFailures).toBe(2)
      expect(records.get('acc-urgent')?.consecutiveFailures).toBe(1)
      await Promise.all([store.close(), view.close()])
    })

    it('close() writes what was queued', async () => {
      const { store, sibling } = await make()
      await store.update('acc-1', increment)
      await store.close()
      const view = sibling === null ? store : sibling()
      expect((await view.read()).get('acc-1')?.consecutiveFailures).toBe(1)
      await view.close()
    })

    it('loses no update when two stores increment one account concurrently', async () => {
      const { store, sibling } = await make()
      const other = sibling?.() ?? store
      const urgent = { urgent: true }
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : other).update('acc-1', increment, urgent),
        ),
      )
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : other).update('acc-1', increment),
        ),
      )
      await Promise.all([store.close(), other.close()])
      const view = sibling?.() ?? store
      expect((await view.read()).get('acc-1')?.consecutiveFailures).toBe(40)
      await view.close()
    })

    it('pins, reads back and clears the pinned account across stores', async () => {
      const { store, sibling } = await make()
      await store.setPinned('acc-2')
      expect(await store.pinned()).toBe('acc-2')
      const other = sibling?.()
      if (other !== undefined) expect(await other.pinned()).toBe('acc-2')
      await store.setPinned(null)
      expect(await store.pinned()).toBeNull()
      if (sibling !== null) {
        const fresh = sibling()
        expect(await fresh.pinned()).toBeNull()
        await fresh.close()
      }
      await Promise.all([store.close(), other?.close()])
    })

    it('forget() removes a record (also one with changes still queued), leaving the others', async () => {
      const { store, sibling } = await make()
      await store.update('acc-1', increment, { urgent: true })
      await store.update('acc-2', increment, { urgent: true })
      await store.update('acc-1', increment)
      await store.forget('acc-1')
      expect([...(await store.read()).keys()]).toEqual(['acc-2'])
      await store.close()
      const view = sibling === null ? store : sibling()
      expect([...(await view.read()).keys()]).toEqual(['acc-2'])
      await view.close()
    })

    it('refuses a change that returns another account’s record', async () => {
      const { store } = await make()
      await expect(
        store.update('acc-1', () => sampleHealth('acc-other'), { urgent: true }),
      ).rejects.toThrow(/acc-1/)
      await expect(store.update('acc-1', () => sampleHealth('acc-other'))).rejects.toThrow(/acc-1/)
      // Positive control: the same record under its own id is accepted.
      await store.update('acc-other', () => sampleHealth('acc-other'), { urgent: true })
      expect([...(await store.read()).keys()]).toEqual(['acc-other'])
      await store.close()
    })
  })
}
