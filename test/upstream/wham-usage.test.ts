/**
 * The `/wham/usage` client against the simulator: the headers of PROTOCOL.md §7 on the wire, the quota read back
 * as set, and each failure class (401, Cloudflare challenge, 5xx, redirect not followed) as a BrokerError whose
 * text carries no token.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { isBrokerError, Secret } from '../../src/lib/index.js'
import { fetchUsage, userAgent } from '../../src/upstream/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const identity = { originator: 'codex_cli_rs', version: '0.1.0' }

async function setup() {
  const sim = await useSimulator()
  const account = await signIn(sim, { email: 'usage@example.com', plan: 'pro' })
  const options = {
    backendBase: sim.backendBase,
    accessToken: Secret.from(account.accessToken),
    chatgptAccountId: account.accountId,
    identity,
  }
  return { sim, account, options }
}

async function failure(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

describe('fetchUsage', () => {
  it('reads plan, both windows and credits, sending the Codex headers', async () => {
    const { sim, account, options } = await setup()
    sim.control.setQuota({
      accountId: account.accountId,
      primaryUsedPercent: 42,
      secondaryUsedPercent: 7,
      resetsInSeconds: 600,
    })
    const before = Date.now()
    const usage = await fetchUsage(options)
    expect(usage.planType).toBe('pro')
    expect(usage.primary?.usedPercent).toBe(42)
    expect(usage.primary?.windowMinutes).toBe(300)
    expect(usage.primary?.resetsAt).toBeGreaterThanOrEqual(
      Math.floor(before / 1000) * 1000 + 599_000,
    )
    expect(usage.secondary?.usedPercent).toBe(7)
    expect(usage.secondary?.windowMinutes).toBe(10_080)
    expect(usage.credits).toEqual({ hasCredits: false, unlimited: false, balance: '0' })

    const [request] = sim.control.requests('/backend-api/wham/usage')
    expect(request?.headers['chatgpt-account-id']).toBe(account.accountId)
    expect(request?.headers.authorization).toBe(`Bearer ${account.accessToken}`)
    expect(request?.headers.originator).toBe('codex_cli_rs')
    expect(request?.headers['user-agent']).toBe(userAgent(identity))
    expect(userAgent(identity)).toMatch(/^codex_cli_rs\/0\.1\.0 \(\S+ \S+; \S+\)$/)
  })

  it('classifies a refused token as ERR_UPSTREAM_UNAUTHORIZED without echoing it', async () => {
    const { sim, account, options } = await setup()
    sim.control.revokeAccount({ accountId: account.accountId })
    const error = await failure(fetchUsage(options))
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
    expect(JSON.stringify(error) + String(error)).not.toContain(account.accessToken.slice(20, 60))
  })

  it('recognises a Cloudflare challenge and a 5xx, then works again (positive control)', async () => {
    const { sim, options } = await setup()
    sim.control.injectFault({ route: '/backend-api/wham/usage', kind: 'cloudflare' })
    expect(isBrokerError(await failure(fetchUsage(options)), 'ERR_UPSTREAM_CHALLENGE')).toBe(true)
    sim.control.injectFault({ route: '/backend-api/wham/usage', kind: '500' })
    expect(isBrokerError(await failure(fetchUsage(options)), 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
    expect((await fetchUsage(options)).planType).toBe('pro')
  })

  it('never follows a redirect while carrying the token', async () => {
    const { sim, options } = await setup()
    let hits = 0
    const attacker = createServer((_req, res) => {
      hits += 1
      res.end('{}')
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = attacker.address() as AddressInfo
      sim.control.configure({ redirectFaultLocation: `http://127.0.0.1:${port}/steal` })
      sim.control.injectFault({ route: '/backend-api/wham/usage', kind: 'redirect' })
      const error = await failure(fetchUsage(options))
      expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
      expect(hits).toBe(0)
    } finally {
      attacker.close()
    }
  })

  it('reports an unreachable backend as ERR_UPSTREAM_UNAVAILABLE', async () => {
    const { options } = await setup()
    const error = await failure(
      fetchUsage({ ...options, backendBase: 'http://127.0.0.1:9/backend-api' }),
    )
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAVAILABLE')).toBe(true)
  })
})
