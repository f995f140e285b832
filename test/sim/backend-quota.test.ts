/**
 * Quota on the Codex backend: the `x-codex-*` rate-limit headers on every answer after authentication, the 429
 * `usage_limit_reached` body when a window is at 100 %, and the return to 200 once that window has reset.
 */
import { describe, expect, it } from 'vitest'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import { codexBody, manualClock, postCodex, readRateLimitHeaders } from './backend-support.js'

describe('codex backend quota', () => {
  it('sends parseable x-codex headers on a 200 that follow the quota', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const nowSeconds = Math.floor(clock.now() / 1000)
    const first = await postCodex(sim, account, codexBody('x'))
    expect(first.status).toBe(200)
    expect(readRateLimitHeaders(first)).toEqual({
      primaryUsedPercent: 0,
      primaryWindowMinutes: 300,
      primaryResetAt: nowSeconds + 300 * 60,
      secondaryUsedPercent: 0,
      secondaryWindowMinutes: 10_080,
      secondaryResetAt: nowSeconds + 10_080 * 60,
      hasCredits: false,
      unlimited: false,
      balance: 0,
    })
    await first.text()
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 42.5,
      secondaryUsedPercent: 7,
    })
    const second = await postCodex(sim, account, codexBody('x'))
    expect(second.status).toBe(200)
    expect(readRateLimitHeaders(second)).toMatchObject({
      primaryUsedPercent: 42.5,
      secondaryUsedPercent: 7,
    })
    await second.text()
  })

  it('answers 429 usage_limit_reached at 100 % with the primary reset, then 200 after the reset', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now })
    const account = await signIn(sim, { email: 'dev@example.com', plan: 'pro' })
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: 90,
    })
    const nowSeconds = Math.floor(clock.now() / 1000)
    const limited = await postCodex(sim, account, codexBody('x'))
    expect(limited.status).toBe(429)
    expect(await limited.json()).toEqual({
      error: {
        type: 'usage_limit_reached',
        message: 'The usage limit has been reached',
        plan_type: 'pro',
        resets_at: nowSeconds + 90,
        resets_in_seconds: 90,
      },
    })
    expect(readRateLimitHeaders(limited)).toMatchObject({
      primaryUsedPercent: 100,
      primaryResetAt: nowSeconds + 90,
    })
    clock.advance(30_000)
    const later = await postCodex(sim, account, codexBody('x'))
    expect(later.status).toBe(429)
    expect(((await later.json()) as { error: { resets_in_seconds: number } }).error).toMatchObject({
      resets_at: nowSeconds + 90,
      resets_in_seconds: 60,
    })
    clock.advance(60_000)
    const reset = await postCodex(sim, account, codexBody('x'))
    expect(reset.status).toBe(200)
    expect(readRateLimitHeaders(reset).primaryUsedPercent).toBe(0)
    await reset.text()
    expect(sim.control.counters().responsesByAccount).toEqual({ [account.accountId]: 1 })
  })

  it('names the secondary window when that one is exhausted, and the later reset when both are', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now })
    const account = await signIn(sim, { email: 'dev@example.com' })
    const nowSeconds = Math.floor(clock.now() / 1000)
    sim.control.setQuota({
      accountId: account.accountId,
      secondaryUsedPercent: 100,
      resetsInSeconds: 3_600,
    })
    const secondary = await postCodex(sim, account, codexBody('x'))
    expect(secondary.status).toBe(429)
    expect(await secondary.json()).toMatchObject({
      error: { plan_type: 'plus', resets_at: nowSeconds + 3_600, resets_in_seconds: 3_600 },
    })
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 100,
      resetsInSeconds: 600,
    })
    const both = await postCodex(sim, account, codexBody('x'))
    expect(both.status).toBe(429)
    expect(await both.json()).toMatchObject({ error: { resets_at: nowSeconds + 3_600 } })
  })
})
