/**
 * The simulator's control API and dispatcher: the same operations in process and over `/__sim/*`, validation that
 * says what is wrong, counters and recorded requests, reset, exact routing (404/405), and the loopback-only bind.
 */
import { describe, expect, it } from 'vitest'
import { SimControlError, startSimulator } from '../../src/sim/index.js'
import { postJson, useSimulator } from '../support/sim.js'

describe('simulator control API', () => {
  it('adds accounts in process and over HTTP, and lists both', async () => {
    const sim = await useSimulator()
    const first = sim.control.addAccount({ email: 'a@example.com' })
    expect(first).toMatchObject({ email: 'a@example.com', plan: 'plus' })
    const response = await postJson(`${sim.controlBase}/accounts`, {
      email: 'b@example.com',
      plan: 'pro',
    })
    expect(response.status).toBe(200)
    const second = (await response.json()) as { accountId: string; plan: string }
    expect(second.plan).toBe('pro')
    expect(second.accountId).not.toBe(first.accountId)
    const listed = (await (await fetch(`${sim.controlBase}/accounts`)).json()) as unknown[]
    expect(listed).toHaveLength(2)
    // Adding the same email again returns the existing account rather than a twin.
    expect(sim.control.addAccount({ email: 'A@example.com' }).accountId).toBe(first.accountId)
  })

  it('refuses bad input with a message naming the field, in process and over HTTP', async () => {
    const sim = await useSimulator()
    expect(() => sim.control.addAccount({ email: 'not-an-email' })).toThrow(SimControlError)
    const badPlan = await postJson(`${sim.controlBase}/accounts`, { email: 'x@y.io', plan: 'gold' })
    expect(badPlan.status).toBe(400)
    expect(((await badPlan.json()) as { error: { message: string } }).error.message).toContain(
      'plan',
    )
    const unknownField = await postJson(`${sim.controlBase}/config`, { accessTokenTTL: 5 })
    expect(unknownField.status).toBe(400)
    const notJson = await fetch(`${sim.controlBase}/faults`, { method: 'POST', body: '{' })
    expect(notJson.status).toBe(400)
    const badFault = await postJson(`${sim.controlBase}/faults`, { route: '/x', kind: 'explode' })
    expect(badFault.status).toBe(400)
    const unknownAccount = await postJson(`${sim.controlBase}/quota`, {
      accountId: 'nope',
      primaryUsedPercent: 50,
    })
    expect(unknownAccount.status).toBe(404)
    // Positive control: a valid change is taken and answered with the whole configuration.
    const ok = await postJson(`${sim.controlBase}/config`, { accessTokenTtlSeconds: 5 })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { accessTokenTtlSeconds: number }).accessTokenTtlSeconds).toBe(5)
  })

  it('counts and records requests per route, and reset clears them and returns to the start options', async () => {
    const sim = await useSimulator({ accounts: [{ email: 'start@example.com' }] })
    sim.control.addAccount({ email: 'later@example.com' })
    sim.control.configure({ streamChunks: 3 })
    await fetch(`${sim.issuer}/.well-known/jwks.json`, { headers: { 'x-probe': 'one' } })
    await fetch(`${sim.issuer}/.well-known/jwks.json`)
    const counters = sim.control.counters()
    expect(counters.requests['/.well-known/jwks.json']).toBe(2)
    const recorded = sim.control.requests('/.well-known/jwks.json')
    expect(recorded).toHaveLength(2)
    expect(recorded[0]?.headers['x-probe']).toBe('one')
    const overHttp = (await (
      await fetch(`${sim.controlBase}/requests?route=/.well-known/jwks.json`)
    ).json()) as unknown[]
    expect(overHttp).toHaveLength(2)

    const reset = await postJson(`${sim.controlBase}/reset`, {})
    expect(reset.status).toBe(200)
    expect(sim.control.counters().requests).toEqual({})
    expect(sim.control.accounts().map((account) => account.email)).toEqual(['start@example.com'])
    expect(sim.control.configure({}).streamChunks).toBe(8)
  })

  it('answers an injected fault the given number of times, then behaves again', async () => {
    const sim = await useSimulator()
    sim.control.injectFault({ route: '/.well-known/jwks.json', kind: '500', count: 2 })
    expect((await fetch(`${sim.issuer}/.well-known/jwks.json`)).status).toBe(500)
    expect((await fetch(`${sim.issuer}/.well-known/jwks.json`)).status).toBe(500)
    expect((await fetch(`${sim.issuer}/.well-known/jwks.json`)).status).toBe(200)
  })

  it('routes by exact path and method: 404 for unknown paths, 405 with Allow for a wrong method', async () => {
    const sim = await useSimulator()
    const missing = await fetch(`${sim.issuer}/backend-api/codex/responses/`)
    expect(missing.status).toBe(404)
    const wrongMethod = await fetch(`${sim.issuer}/oauth/token`)
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
  })

  it('keeps serving after a malformed request', async () => {
    const sim = await useSimulator()
    const response = await fetch(`${sim.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":',
    })
    expect(response.status).toBe(400)
    expect((await fetch(`${sim.issuer}/.well-known/jwks.json`)).status).toBe(200)
  })

  it('binds loopback only', async () => {
    await expect(startSimulator({ host: '0.0.0.0' })).rejects.toThrow(/loopback only/)
    await expect(startSimulator({ host: '192.168.1.10' })).rejects.toThrow(/loopback only/)
    // Positive control: an explicit loopback address works.
    const sim = await useSimulator({ host: '127.0.0.1' })
    expect(sim.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })
})
