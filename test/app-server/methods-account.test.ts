/**
 * The app-server's `initialize` and `account/*` methods, called directly against the simulator: each happy path,
 * the browser and device sign-ins end to end, cancel, invalid params, logout with and without revocation (a
 * failed revocation keeps the account), live rate limits, and a canary: nothing any result or notification
 * carries is a secret the simulator issued.
 */
import { describe, expect, it } from 'vitest'
import { createAppServerMethods } from '../../src/app-server/methods/create-app-server-methods.js'
import type { AppServerServices } from '../../src/app-server/methods/services.js'
import { RPC_ERROR_CODES, RpcError } from '../../src/app-server/rpc/rpc-error.js'
import type { RpcMethods } from '../../src/app-server/rpc/rpc-method.js'
import type { Simulator } from '../../src/sim/index.js'
import { followAuthorize, freePorts } from '../oauth/support.js'
import { useSimulator } from '../support/sim.js'
import { recordingContext, servicesFor, type RecordingContext } from './methods-fixture.js'

const EMAIL = 'app@example.com'

interface Setup {
  sim: Simulator
  services: Awaited<ReturnType<typeof servicesFor>>
  methods: RpcMethods
  context: RecordingContext
  results: unknown[]
  call(method: string, params?: unknown): Promise<unknown>
  close(): Promise<void>
}

async function setup(extra: Omit<Partial<AppServerServices>, 'store'> = {}): Promise<Setup> {
  const ports = await freePorts(2)
  const sim = await useSimulator({
    callbackPorts: ports,
    accounts: [{ email: EMAIL, plan: 'pro' }],
    config: { autoApprove: EMAIL, devicePollIntervalSeconds: 0 },
  })
  const services = await servicesFor(sim, { callbackPorts: ports, ...extra })
  const built = createAppServerMethods(services)
  const context = recordingContext()
  const results: unknown[] = []
  return {
    sim,
    services,
    methods: built.methods,
    context,
    results,
    async call(method, params) {
      const handler = built.methods.get(method)
      if (!handler) throw new Error(`no method ${method}`)
      const result = await handler.handle(params, context)
      results.push(result)
      return result
    },
    close: () => built.close(),
  }
}

async function rpcErrorOf(promise: Promise<unknown>): Promise<RpcError> {
  const error: unknown = await promise.then(
    () => new Error('expected an RpcError'),
    (reason: unknown) => reason,
  )
  if (!(error instanceof RpcError)) throw error
  return error
}

/** Signs the simulator account in through account/login/start chatgpt, as a browser would. */
async function browserSignIn(s: Setup): Promise<{ loginId: string }> {
  const started = (await s.call('account/login/start', { type: 'chatgpt' })) as {
    loginId: string
    authUrl: string
  }
  const completed = s.context.waitFor(
    'account/login/completed',
    (p) => (p as { loginId: string }).loginId === started.loginId,
  )
  const { page } = await followAuthorize(started.authUrl)
  expect(page.status).toBe(200)
  expect(await completed).toEqual({ loginId: started.loginId, success: true, error: null })
  return started
}

async function expectNoIssuedSecret(s: Setup): Promise<void> {
  const everything = JSON.stringify([s.results, s.context.broadcasts, s.context.notified])
  const issued = s.sim.control.issued()
  expect(issued.length).toBeGreaterThan(0)
  // positive control: the store does hold issued secrets, so the scan below can find one
  const stored = (await s.services.store.list()).flatMap((account) =>
    account.auth.kind === 'chatgpt' ? [account.auth.refreshToken.reveal()] : [],
  )
  for (const secret of stored) expect(issued).toContain(secret)
  for (const secret of issued) expect(everything).not.toContain(secret)
}

describe('initialize', () => {
  it('answers the server identity, with or without clientInfo, before initialize', async () => {
    const s = await setup()
    const method = s.methods.get('initialize')
    expect(method?.requiresInitialize).toBe(false)
    const result = (await s.call('initialize', { clientInfo: { name: 'x', version: '1' } })) as {
      userAgent: string
      serverInfo: { name: string; version: string }
    }
    expect(result.serverInfo.name).toBe('codex-broker')
    expect(result.userAgent).toBe(`codex-broker/${result.serverInfo.version}`)
    expect(await s.call('initialize')).toEqual(result)
    expect(s.methods.get('account/list')?.requiresInitialize).not.toBe(false)
    expect([...s.methods.keys()]).toEqual(
      expect.arrayContaining(['responses/create', 'responses/cancel', 'account/logout']),
    )
  })
})

describe('browser sign-in end to end', () => {
  it('stores the account, broadcasts completed and updated, and list/read show it', async () => {
    const s = await setup()
    expect(await s.call('account/read')).toEqual({ account: null, requiresOpenaiAuth: true })
    expect(await s.call('account/list')).toEqual({ accounts: [] })
    const { loginId } = await browserSignIn(s)
    const [stored] = await s.services.store.list()
    expect(stored?.email).toBe(EMAIL)
    const updated = await s.context.waitFor('account/updated')
    expect(updated).toEqual({
      account: {
        id: stored?.id,
        email: EMAIL,
        label: null,
        plan: 'pro',
        kind: 'chatgpt',
        status: 'active',
      },
    })
    expect(s.context.broadcasts.map((b) => b.method)).toEqual([
      'account/login/completed',
      'account/updated',
    ])
    expect(loginId).toMatch(/^[0-9a-f-]{36}$/)
    expect(await s.call('account/list')).toEqual({
      accounts: [(updated as { account: unknown }).account],
      activeAccountId: stored?.id,
    })
    expect(await s.call('account/read', { accountId: stored?.id })).toEqual({
      account: { type: 'chatgpt', id: stored?.id, email: EMAIL, planType: 'pro' },
      requiresOpenaiAuth: true,
    })
    expect(await s.call('account/login/cancel', { loginId })).toEqual({ status: 'notFound' })
    await expectNoIssuedSecret(s)
  })

  it('cancel ends a browser sign-in with success false and frees the port', async () => {
    const s = await setup()
    const started = (await s.call('account/login/start', { type: 'chatgpt' })) as {
      loginId: string
    }
    expect(await s.call('account/login/cancel', { loginId: started.loginId })).toEqual({
      status: 'canceled',
    })
    expect(await s.context.waitFor('account/login/completed')).toEqual({
      loginId: started.loginId,
      success: false,
      error: 'Sign-in cancelled.',
    })
    expect(await s.services.store.list()).toEqual([])
    // the port is free again: a new sign-in completes
    await browserSignIn(s)
    expect(await s.services.store.list()).toHaveLength(1)
  })

  it('a second browser sign-in replaces the first', async () => {
    const s = await setup()
    const first = (await s.call('account/login/start', { type: 'chatgpt' })) as { loginId: string }
    await browserSignIn(s)
    const ended = (await s.context.waitFor(
      'account/login/completed',
      (p) => (p as { loginId: string }).loginId === first.loginId,
    )) as { success: boolean; error: string }
    expect(ended.success).toBe(false)
    expect(ended.error).toContain('newer browser sign-in')
  })

  it('close() cancels sign-ins in flight', async () => {
    const s = await setup()
    await s.call('account/login/start', { type: 'chatgpt' })
    await s.close()
    const ended = (await s.context.waitFor('account/login/completed')) as { success: boolean }
    expect(ended.success).toBe(false)
  })
})

describe('device-code sign-in end to end', () => {
  it('answers the URL and code, then completes after approval', async () => {
    const s = await setup()
    const started = (await s.call('account/login/start', { type: 'chatgptDeviceCode' })) as {
      type: string
      loginId: string
      verificationUrl: string
      userCode: string
    }
    expect(started.type).toBe('chatgptDeviceCode')
    expect(started.verificationUrl).toBe(`${s.sim.issuer}/codex/device`)
    expect(Object.keys(started).sort()).toEqual(['loginId', 'type', 'userCode', 'verificationUrl'])
    const response = await fetch(`${s.sim.controlBase}/device/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userCode: started.userCode, email: EMAIL }),
    })
    expect(response.ok).toBe(true)
    expect(await s.context.waitFor('account/login/completed')).toEqual({
      loginId: started.loginId,
      success: true,
      error: null,
    })
    expect((await s.services.store.list())[0]?.email).toBe(EMAIL)
    await expectNoIssuedSecret(s)
  })

  it('cancel ends a pending device sign-in', async () => {
    const s = await setup()
    const started = (await s.call('account/login/start', { type: 'chatgptDeviceCode' })) as {
      loginId: string
    }
    expect(await s.call('account/login/cancel', { loginId: started.loginId })).toEqual({
      status: 'canceled',
    })
    expect(await s.context.waitFor('account/login/completed')).toMatchObject({
      success: false,
      error: 'Sign-in cancelled.',
    })
  })

  it('device sign-in switched off is the start call error, with what to do', async () => {
    const s = await setup()
    const ports = s.services.callbackPorts
    const sim = await useSimulator({
      ...(ports ? { callbackPorts: ports } : {}),
      accounts: [{ email: EMAIL, deviceAuthEnabled: false }],
    })
    const services = await servicesFor(sim)
    const { methods } = createAppServerMethods(services)
    const error = await rpcErrorOf(
      methods.get('account/login/start')?.handle({ type: 'chatgptDeviceCode' }, s.context) ??
        Promise.resolve(),
    )
    expect(error.code).toBe(RPC_ERROR_CODES.serverError)
    expect(error.message).toContain('Settings → Security')
  })
})

describe('limits', () => {
  it('refuses a sign-in beyond four at once, and accepts one again after a cancel', async () => {
    const s = await setup()
    const started: { loginId: string }[] = []
    for (let i = 0; i < 4; i += 1) {
      started.push(
        (await s.call('account/login/start', { type: 'chatgptDeviceCode' })) as { loginId: string },
      )
    }
    const error = await rpcErrorOf(s.call('account/login/start', { type: 'chatgptDeviceCode' }))
    expect(error.code).toBe(RPC_ERROR_CODES.serverError)
    expect(error.message).toContain('account/login/cancel')
    await s.call('account/login/cancel', { loginId: started[0]?.loginId })
    await s.call('account/login/start', { type: 'chatgptDeviceCode' })
    await s.close()
  })
})

describe('invalid params', () => {
  it.each([
    ['account/login/start', { type: 'password' }],
    ['account/login/start', {}],
    ['account/login/start', { type: 'apiKey' }],
    ['account/login/start', ['chatgpt']],
    ['account/login/cancel', {}],
    ['account/logout', { everywhere: 'yes' }],
    ['account/read', { accountId: 5 }],
  ])('%s %j → -32602 saying what to send', async (method, params) => {
    const s = await setup()
    const error = await rpcErrorOf(s.call(method, params))
    expect(error.code).toBe(RPC_ERROR_CODES.invalidParams)
    expect(error.message).toMatch(/^Invalid params: .+ Send .+/)
  })

  it('an invalid API key is not echoed', async () => {
    const s = await setup()
    const error = await rpcErrorOf(
      s.call('account/login/start', { type: 'apiKey', apiKey: 'sk-secret value' }),
    )
    expect(error.code).toBe(RPC_ERROR_CODES.invalidParams)
    expect(error.message).not.toContain('sk-secret')
  })

  it('an unknown accountId is -32000 naming account/list', async () => {
    const s = await setup()
    const error = await rpcErrorOf(s.call('account/read', { accountId: 'nope' }))
    expect(error.code).toBe(RPC_ERROR_CODES.serverError)
    expect(error.message).toContain('account/list')
  })
})

describe('API-key sign-in', () => {
  it('stores the key as an account and never returns it', async () => {
    const s = await setup()
    const { apiKey } = s.sim.control.createApiKey()
    const result = (await s.call('account/login/start', { type: 'apiKey', apiKey })) as {
      type: string
      accountId: string
    }
    expect(result.type).toBe('apiKey')
    const stored = await s.services.store.get(result.accountId)
    expect(stored?.auth.kind === 'apiKey' && stored.auth.apiKey.reveal()).toBe(apiKey)
    expect(await s.call('account/read')).toEqual({
      account: { type: 'apiKey', id: result.accountId },
      requiresOpenaiAuth: true,
    })
    expect(JSON.stringify([s.results, s.context.broadcasts])).not.toContain(apiKey)
  })
})

describe('logout', () => {
  it('removes the account locally and broadcasts account/updated', async () => {
    const s = await setup()
    await browserSignIn(s)
    const [stored] = await s.services.store.list()
    expect(await s.call('account/logout')).toEqual({})
    expect(await s.services.store.list()).toEqual([])
    expect(s.context.broadcasts.at(-1)).toEqual({
      method: 'account/updated',
      params: { account: null, removedAccountId: stored?.id },
    })
    expect(s.sim.control.counters().revokedFamilies).toBe(0)
  })

  it('everywhere revokes at the issuer first', async () => {
    const s = await setup()
    await browserSignIn(s)
    const [stored] = await s.services.store.list()
    expect(await s.call('account/logout', { accountId: stored?.id, everywhere: true })).toEqual({})
    expect(s.sim.control.counters().revokedFamilies).toBe(1)
    expect(await s.services.store.list()).toEqual([])
    await expectNoIssuedSecret(s)
  })

  it('a failed revocation keeps the account and answers -32000', async () => {
    const s = await setup()
    await browserSignIn(s)
    s.sim.control.injectFault({ route: '/oauth/revoke', kind: '500' })
    const before = s.context.broadcasts.length
    const error = await rpcErrorOf(s.call('account/logout', { everywhere: true }))
    expect(error.code).toBe(RPC_ERROR_CODES.serverError)
    expect(error.message).toContain('kept')
    expect(await s.services.store.list()).toHaveLength(1)
    expect(s.context.broadcasts).toHaveLength(before)
  })

  it('with no account it says to sign in', async () => {
    const s = await setup()
    const error = await rpcErrorOf(s.call('account/logout'))
    expect(error.message).toContain('account/login/start')
  })
})

describe('account/rateLimits/read', () => {
  it('matches the simulator quota', async () => {
    const s = await setup()
    await browserSignIn(s)
    const [stored] = await s.services.store.list()
    const id = stored?.id ?? ''
    s.sim.control.setQuota({ accountId: id, primaryUsedPercent: 42, resetsInSeconds: 3600 })
    s.sim.control.setQuota({ accountId: id, secondaryUsedPercent: 7 })
    const result = (await s.call('account/rateLimits/read', { accountId: id })) as {
      rateLimits: {
        primary: { usedPercent: number; windowDurationMins: number; resetsAt: number }
        secondary: { usedPercent: number; windowDurationMins: number }
      }
      planType: string
    }
    expect(result.planType).toBe('pro')
    expect(result.rateLimits.primary.usedPercent).toBe(42)
    expect(result.rateLimits.secondary.usedPercent).toBe(7)
    expect(result.rateLimits.primary.windowDurationMins).toBe(300)
    expect(result.rateLimits.secondary.windowDurationMins).toBe(10080)
    expect(Math.abs(result.rateLimits.primary.resetsAt - (Date.now() / 1000 + 3600))).toBeLessThan(
      5,
    )
    await expectNoIssuedSecret(s)
  })

  it('a needs-login account is told to sign in again', async () => {
    const s = await setup()
    await browserSignIn(s)
    const [stored] = await s.services.store.list()
    await s.services.store.update(stored?.id ?? '', (a) => ({ ...a, status: 'needs_login' }))
    const error = await rpcErrorOf(s.call('account/rateLimits/read'))
    expect(error.code).toBe(RPC_ERROR_CODES.serverError)
    expect(error.message).toContain('account/login/start')
  })
})
