/**
 * The quota snapshot: read from the real `x-codex-*` headers of a simulator answer after `setQuota`, and
 * tolerant of missing or garbled values (null, never NaN).
 */
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { CodexBackend, isEmptyQuota, quotaFromHeaders } from '../../src/upstream/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

describe('quotaFromHeaders', () => {
  it('reads both windows and credits from a real backend answer', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'quota@example.com', plan: 'plus' })
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 42,
      secondaryUsedPercent: 7,
      resetsInSeconds: 600,
    })
    const backend = new CodexBackend({
      backendBase: sim.backendBase,
      identity: { originator: 'codex_cli_rs', version: '0.1.0' },
    })
    try {
      const before = Date.now()
      const answer = await backend.createResponse({
        credentials: {
          accessToken: Secret.from(account.accessToken),
          chatgptAccountId: account.accountId,
        },
        body: { model: 'gpt-5.4', input: 'hi', stream: true, store: false },
      })
      answer.discard()
      const { primary, secondary, credits, observedAt } = answer.quota
      expect(primary?.usedPercent).toBe(42)
      expect(primary?.windowMinutes).toBe(300)
      expect(primary?.resetsAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 599_000)
      expect(primary?.resetsAt).toBeLessThanOrEqual(before + 601_000)
      expect(secondary?.usedPercent).toBe(7)
      expect(secondary?.windowMinutes).toBe(10_080)
      expect(credits).toEqual({ hasCredits: false, unlimited: false, balance: '0' })
      expect(observedAt).toBeGreaterThanOrEqual(before)
    } finally {
      await backend.close()
    }
  })

  it('answers null for missing and garbled values, never NaN', () => {
    const quota = quotaFromHeaders(
      {
        'x-codex-primary-used-percent': 'lots',
        'x-codex-secondary-used-percent': ' 12.5 ',
        'x-codex-secondary-window-minutes': 'NaN',
        'x-codex-secondary-reset-at': '1e400',
        'x-codex-credits-has-credits': 'TRUE',
        'x-codex-credits-balance': '12; drop table',
      },
      1_000,
    )
    expect(quota).toEqual({
      primary: null,
      secondary: { usedPercent: 12.5, windowMinutes: null, resetsAt: null },
      credits: { hasCredits: true, unlimited: false, balance: null },
      observedAt: 1_000,
    })
    expect(JSON.stringify(quota)).not.toContain('NaN')
  })

  it('is empty for an answer without x-codex headers, from Headers or a record', () => {
    expect(isEmptyQuota(quotaFromHeaders(new Headers({ 'content-type': 'text/plain' })))).toBe(true)
    expect(isEmptyQuota(quotaFromHeaders({ 'x-codex-credits-unlimited': 'maybe' }))).toBe(true)
    expect(
      quotaFromHeaders(new Headers({ 'x-codex-primary-used-percent': '100' })).primary,
    ).toEqual({
      usedPercent: 100,
      windowMinutes: null,
      resetsAt: null,
    })
  })
})
