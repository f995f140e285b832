/**
 * The plan-dependent side of the backend: `GET /codex/models` per plan, the 400 for a model outside the plan
 * on `codex/responses`, and `GET /wham/usage` in PROTOCOL.md §7's exact shape, agreeing with the headers.
 */
import { describe, expect, it } from 'vitest'
import type { SimPlan } from '../../src/sim/index.js'
import { useSimulator } from '../support/sim.js'
import { signIn } from '../support/sim-tokens.js'
import {
  codexBody,
  getBackend,
  manualClock,
  postCodex,
  readRateLimitHeaders,
} from './backend-support.js'

const EXPECTED_MODELS: Record<SimPlan, string[]> = {
  free: ['gpt-5.4', 'gpt-5.4-mini'],
  go: ['gpt-5.4', 'gpt-5.4-mini'],
  plus: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini'],
  team: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini'],
  business: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini'],
  enterprise: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini'],
  edu: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini'],
  pro: ['gpt-5.5', 'gpt-5.4-codex', 'gpt-5.4', 'gpt-5.4-mini', 'gpt-5.5-pro'],
}

describe('codex/models', () => {
  it('lists the models of each plan', async () => {
    const sim = await useSimulator()
    for (const [plan, slugs] of Object.entries(EXPECTED_MODELS) as [SimPlan, string[]][]) {
      const account = await signIn(sim, { email: `${plan}@example.com`, plan })
      const response = await getBackend(sim, account, '/codex/models?client_version=0.169.0')
      expect(response.status).toBe(200)
      const { models } = (await response.json()) as { models: Record<string, unknown>[] }
      expect(models.map((entry) => entry.slug)).toEqual(slugs)
      for (const entry of models) {
        expect(entry).toMatchObject({
          slug: expect.any(String) as string,
          display_name: expect.any(String) as string,
          supported_in_api: true,
          visibility: 'list',
          context_window: expect.any(Number) as number,
        })
      }
    }
  })

  it('requires client_version and a signed-in caller', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const noVersion = await getBackend(sim, account, '/codex/models')
    expect(noVersion.status).toBe(400)
    expect(await noVersion.json()).toEqual({ detail: 'client_version is required' })
    const anonymous = await fetch(`${sim.backendBase}/codex/models?client_version=1`)
    expect(anonymous.status).toBe(401)
  })

  it('refuses a model outside the plan with the real 400 message, and serves the plan’s own', async () => {
    const sim = await useSimulator()
    const free = await signIn(sim, { email: 'free@example.com', plan: 'free' })
    const refused = await postCodex(sim, free, codexBody('x', { model: 'gpt-5.5' }))
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({
      detail: "The 'gpt-5.5' model is not supported when using Codex with a ChatGPT account.",
    })
    const mini = await postCodex(sim, free, codexBody('x', { model: 'gpt-5.4-mini' }))
    expect(mini.status).toBe(200)
    await mini.text()
    const plus = await signIn(sim, { email: 'plus@example.com', plan: 'plus' })
    const notPro = await postCodex(sim, plus, codexBody('x', { model: 'gpt-5.5-pro' }))
    expect(notPro.status).toBe(400)
    await notPro.text()
    const pro = await signIn(sim, { email: 'pro@example.com', plan: 'pro' })
    const proModel = await postCodex(sim, pro, codexBody('x', { model: 'gpt-5.5-pro' }))
    expect(proModel.status).toBe(200)
    await proModel.text()
  })
})

describe('wham/usage', () => {
  it('answers exactly {plan_type, rate_limit: {primary_window, secondary_window}, credits}', async () => {
    const clock = manualClock()
    const sim = await useSimulator({ now: clock.now })
    const account = await signIn(sim, { email: 'dev@example.com', plan: 'team' })
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 25,
      secondaryUsedPercent: 60,
    })
    clock.advance(10_000)
    const nowSeconds = Math.floor(clock.now() / 1000)
    const usage = await getBackend(sim, account, '/wham/usage')
    expect(usage.status).toBe(200)
    const body = (await usage.json()) as {
      rate_limit: { primary_window: { reset_at: number }; secondary_window: { reset_at: number } }
    }
    const primaryReset = body.rate_limit.primary_window.reset_at
    const secondaryReset = body.rate_limit.secondary_window.reset_at
    expect(body).toStrictEqual({
      plan_type: 'team',
      rate_limit: {
        primary_window: {
          used_percent: 25,
          limit_window_seconds: 18_000,
          reset_after_seconds: primaryReset - nowSeconds,
          reset_at: primaryReset,
        },
        secondary_window: {
          used_percent: 60,
          limit_window_seconds: 604_800,
          reset_after_seconds: secondaryReset - nowSeconds,
          reset_at: secondaryReset,
        },
      },
      credits: { has_credits: false, unlimited: false, balance: '0' },
    })
    expect(primaryReset - nowSeconds).toBe(18_000 - 10)
    // The headers of a response tell the same story.
    const response = await postCodex(sim, account, codexBody('x'))
    expect(readRateLimitHeaders(response)).toMatchObject({
      primaryUsedPercent: 25,
      primaryResetAt: primaryReset,
      secondaryUsedPercent: 60,
      secondaryResetAt: secondaryReset,
    })
    await response.text()
  })

  it('authenticates like the other backend routes', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'dev@example.com' })
    const other = await signIn(sim, { email: 'other@example.com' })
    expect((await fetch(`${sim.backendBase}/wham/usage`)).status).toBe(401)
    const wrong = await getBackend(sim, account, '/wham/usage', {
      'chatgpt-account-id': other.accountId,
    })
    expect(wrong.status).toBe(403)
  })
})
