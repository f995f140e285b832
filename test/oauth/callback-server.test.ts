/**
 * The loopback callback server (SECURITY.md C1, CB-04/05/07/08/09/10 and the RB rows of the callback listener),
 * with a stand-in `onCallback`; the full sign-in against the simulator is in login-browser.test.ts. Real HTTP on
 * loopback ports picked by the kernel; raw requests over `node:net` where a client would normalise the request.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { BrokerError, isBrokerError, type Secret } from '../../src/lib/index.js'
import {
  BIND_RETRIES,
  BIND_RETRY_DELAY_MS,
  type CallbackServer,
  type CallbackServerOptions,
  createState,
  startCallbackServer,
} from '../../src/oauth/index.js'
import {
  closeServer,
  deferred,
  fastRetryClock,
  freePorts,
  get,
  msUntilRefused,
  type Page,
  rawRequest,
  rejectionOf,
  selfAdvancingClock,
} from './support.js'

const started: CallbackServer[] = []
const squatters: Server[] = []

afterEach(async () => {
  for (const server of started.splice(0)) server.cancel()
  await Promise.all(squatters.splice(0).map((server) => closeServer(server)))
})

interface Harness {
  server: CallbackServer
  state: string
  codes: string[]
  base: string
}

async function start(overrides: Partial<CallbackServerOptions> = {}): Promise<Harness> {
  const state = createState()
  const codes: string[] = []
  const server = await startCallbackServer({
    ports: await freePorts(2),
    expectedState: state,
    onCallback: (code: Secret) => {
      codes.push(code.reveal())
      return Promise.resolve()
    },
    ...overrides,
  })
  started.push(server)
  return { server, state, codes, base: `http://127.0.0.1:${server.port}` }
}

function callbackUrl(base: string, params: [string, string][]): string {
  return `${base}/auth/callback?${new URLSearchParams(params).toString()}`
}

/** A raw GET with the given Host header lines (null: none). */
function rawGet(port: number, path: string, hosts: string[] | null, version = '1.1') {
  const hostLines = (hosts ?? []).map((host) => `Host: ${host}\r\n`).join('')
  return rawRequest(port, `GET ${path} HTTP/${version}\r\n${hostLines}Connection: close\r\n\r\n`)
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
}

function expectSafePage(page: Page): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(page.headers.get(name), name).toBe(value)
  }
  expect(page.headers.get('location')).toBeNull()
  expect(page.body).not.toMatch(/<(script|style|link|img|iframe|a)\b/i)
  expect(page.body).not.toMatch(/https?:\/\//)
}

function expectSafeRaw(text: string): void {
  const head = text.split('\r\n\r\n')[0]?.toLowerCase() ?? ''
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(head).toContain(`${name}: ${value.toLowerCase()}`)
  }
  expect(head).not.toContain('location:')
}

/** An HTTP server squatting on a port: answers 200 to everything, stays bound, records the paths. */
async function squat(port: number): Promise<{ paths: string[] }> {
  const paths: string[] = []
  const server = createServer((req: IncomingMessage, res) => {
    paths.push(req.url ?? '')
    res.end('ok')
  })
  squatters.push(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return { paths }
}

describe('CB-04/05: the state check', () => {
  it('wrong, missing and duplicated states answer 400 and the login keeps waiting', async () => {
    const { server, state, codes, base } = await start()
    const wrong = [
      [
        ['code', 'c1'],
        ['state', createState()],
      ],
      [['code', 'c1']],
      [
        ['code', 'c1'],
        ['state', ''],
      ],
      [
        ['code', 'c1'],
        ['state', state],
        ['state', state],
      ],
      [
        ['code', 'c1'],
        ['state', state],
        ['state', 'other'],
      ],
      [
        ['code', 'c1'],
        ['state', state.slice(0, -1)],
      ],
      [
        ['code', 'c1'],
        ['state', `${state}x`],
      ],
      [
        ['error', 'access_denied'],
        ['state', 'bad'],
      ],
    ] as [string, string][][]
    for (const params of wrong) {
      const page = await get(callbackUrl(base, params))
      expect(page.status).toBe(400)
      expect(page.body).toContain('State mismatch')
      expectSafePage(page)
    }
    expect(codes).toEqual([])
    const good = await get(
      callbackUrl(base, [
        ['code', 'the-code'],
        ['state', state],
      ]),
    )
    expect(good.status).toBe(200)
    expect(good.body).toContain('Signed in')
    expectSafePage(good)
    await server.done
    expect(codes).toEqual(['the-code'])
  })

  it('the state is single use: a second callback while the first completes is a 400', async () => {
    const gate = deferred()
    const { server, state, base } = await start({ onCallback: () => gate.promise })
    const url = callbackUrl(base, [
      ['code', 'c'],
      ['state', state],
    ])
    const first = get(url)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const replay = await get(url)
    expect(replay.status).toBe(400)
    expect(replay.body).toContain('State mismatch')
    const lateCancel = await get(`${base}/cancel`)
    expect(lateCancel.status).toBe(409)
    gate.resolve()
    expect((await first).status).toBe(200)
    await server.done
  })
})

describe('issuer error answers', () => {
  it('access_denied with missing_codex_entitlement: "Codex is not enabled for your workspace"', async () => {
    const { server, state, base, codes } = await start()
    const page = await get(
      callbackUrl(base, [
        ['error', 'access_denied'],
        ['error_description', 'missing_codex_entitlement'],
        ['state', state],
      ]),
    )
    expect(page.status).toBe(400)
    expect(page.body).toContain('Codex is not enabled for your workspace.')
    expectSafePage(page)
    const error = await rejectionOf(server.done)
    expect(isBrokerError(error, 'ERR_FORBIDDEN')).toBe(true)
    expect((error as Error).message).toBe('Codex is not enabled for your workspace.')
    expect(codes).toEqual([])
  })

  it('a plain access_denied is a denied sign-in; other errors name the code', async () => {
    const denied = await start()
    await get(
      callbackUrl(denied.base, [
        ['error', 'access_denied'],
        ['state', denied.state],
      ]),
    )
    expect(isBrokerError(await rejectionOf(denied.server.done), 'ERR_LOGIN_CANCELLED')).toBe(true)
    const other = await start()
    const page = await get(
      callbackUrl(other.base, [
        ['error', 'invalid_scope'],
        ['error_description', 'scope <b>bad</b>'],
        ['state', other.state],
      ]),
    )
    expect(page.body).toContain('invalid_scope (scope &lt;b&gt;bad&lt;/b&gt;)')
    const error = await rejectionOf(other.server.done)
    expect(isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')).toBe(true)
  })

  it('a matching state without a code ends the sign-in', async () => {
    const { server, state, base } = await start()
    expect((await get(callbackUrl(base, [['state', state]]))).status).toBe(400)
    expect(isBrokerError(await rejectionOf(server.done), 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
  })
})

describe('onCallback failures', () => {
  it('a BrokerError shows its code and message only', async () => {
    const failure = new BrokerError('ERR_UPSTREAM_UNAUTHORIZED', 'The issuer refused the code.')
    const { server, state, base } = await start({ onCallback: () => Promise.reject(failure) })
    const page = await get(
      callbackUrl(base, [
        ['code', 'c'],
        ['state', state],
      ]),
    )
    expect(page.status).toBe(502)
    expect(page.body).toContain('ERR_UPSTREAM_UNAUTHORIZED')
    expect(page.body).toContain('The issuer refused the code.')
    expect(page.body).not.toContain('Signed in')
    expectSafePage(page)
    expect(await rejectionOf(server.done)).toBe(failure)
  })

  it('any other error shows a generic message, never its text', async () => {
    const failure = new Error('disk full at /home/me/.codex-broker/accounts.json')
    const { server, state, base } = await start({ onCallback: () => Promise.reject(failure) })
    const page = await get(
      callbackUrl(base, [
        ['code', 'c'],
        ['state', state],
      ]),
    )
    expect(page.status).toBe(500)
    expect(page.body).toContain('ERR_INTERNAL')
    expect(page.body).not.toContain('disk full')
    expect(await rejectionOf(server.done)).toBe(failure)
  })
})

describe('CB-07: headers of every answer', () => {
  it('404, 403 and 400 answers carry the headers; nothing redirects', async () => {
    const { base, server } = await start()
    for (const path of [
      '/',
      '/success?id_token=x',
      '/auth/callback/',
      '/AUTH/CALLBACK',
      '/favicon.ico',
    ]) {
      const page = await get(`${base}${path}`)
      expect(page.status, path).toBe(404)
      expectSafePage(page)
    }
    const post = await fetch(`${base}/auth/callback`, { method: 'POST', redirect: 'manual' })
    expect(post.status).toBe(404)
    const forbidden = await get(`${base}/cancel`, { origin: 'https://evil.example' })
    expect(forbidden.status).toBe(403)
    expectSafePage(forbidden)
    const wrongHost = await rawGet(server.port, '/auth/callback', ['evil.example'])
    expect(wrongHost.status).toBe(403)
    expectSafeRaw(wrongHost.text)
    const noHost = await rawGet(server.port, '/auth/callback', null)
    expect(noHost.status).toBe(400)
    expectSafeRaw(noHost.text)
    const garbage = await rawRequest(server.port, 'GARBAGE\r\n\r\n')
    expect(garbage.status).toBe(400)
    expectSafeRaw(garbage.text)
  })
})

describe('RB: the Host matrix of the callback listener', () => {
  it('accepts exactly 127.0.0.1:<port> and localhost:<port> (any case); refuses the rest', async () => {
    const { server, state, base } = await start()
    const port = server.port
    const [otherPort] = await freePorts(1)
    const path = '/auth/callback?state=wrong&code=x'
    const accepted: [string, string][] = [
      ['RB-01', `127.0.0.1:${port}`],
      ['RB-02', `localhost:${port}`],
      ['RB-12', `LOCALHOST:${port}`],
      ['RB-12b', `LocalHost:${port}`],
    ]
    for (const [row, host] of accepted) {
      const answer = await rawGet(port, path, [host])
      expect(answer.status, row).toBe(400)
      expect(answer.text, row).toContain('State mismatch')
    }
    const refused: [string, string][] = [
      ['RB-03', `[::1]:${port}`],
      ['RB-04', '127.0.0.1'],
      ['RB-05', `0.0.0.0:${port}`],
      ['RB-06', `evil.example:${port}`],
      ['RB-07', `127.0.0.1.nip.io:${port}`],
      ['RB-08', `localhost.evil.example:${port}`],
      ['RB-09', `127.1:${port}`],
      ['RB-10', `2130706433:${port}`],
      ['RB-11', `0x7f000001:${port}`],
      ['RB-13', `localhost.:${port}`],
      ['RB-14', `[::ffff:127.0.0.1]:${port}`],
      ['RB-15', `127.0.0.1:${port}@evil`],
      ['RB-16', `127.0.0.1:${otherPort}`],
      ['RB-20', '[::1'],
      ['RB-21', `${'a'.repeat(8 * 1024)}:${port}`],
    ]
    for (const [row, host] of refused) {
      const answer = await rawGet(port, path, [host])
      expect(answer.status, row).toBe(403)
      expect(answer.text, row).not.toContain('State mismatch')
    }
    const malformed: [string, Promise<{ status: number; text: string }>][] = [
      ['RB-17', rawGet(port, path, null)],
      ['RB-18', rawGet(port, path, [`127.0.0.1:${port}`, `127.0.0.1:${port}`])],
      ['RB-19', rawGet(port, `http://evil.example${path}`, [`127.0.0.1:${port}`])],
      ['RB-22', rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\0x\r\n\r\n`)],
      ['RB-24', rawGet(port, path, null, '1.0')],
    ]
    for (const [row, answer] of malformed) {
      const { status, text } = await answer
      expect(status, row).toBe(400)
      expect(text, row).not.toContain('State mismatch')
      if (row !== 'RB-22') expect(text, row).toContain('Bad request')
    }
    // none of this ended the sign-in; the real callback still completes it
    const good = await get(
      callbackUrl(base, [
        ['code', 'c'],
        ['state', state],
      ]),
    )
    expect(good.status).toBe(200)
    await server.done
  })

  it('a correct state behind a wrong Host is refused and does not spend the state', async () => {
    const { server, state, base, codes } = await start()
    const path = `/auth/callback?code=c&state=${state}`
    expect((await rawGet(server.port, path, [`evil.example:${server.port}`])).status).toBe(403)
    expect(codes).toEqual([])
    expect((await get(`${base}${path}`)).status).toBe(200)
    await server.done
    expect(codes).toEqual(['c'])
  })
})

describe('CB-08: /cancel', () => {
  it.each([
    ['an Origin', { origin: 'https://evil.example' }],
    ['Origin: null', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
  ])('is refused to a browser caller (%s) and the login continues', async (_name, headers) => {
    const { server, state, base } = await start()
    const refused = await get(`${base}/cancel`, headers)
    expect(refused.status).toBe(403)
    expectSafePage(refused)
    const good = await get(
      callbackUrl(base, [
        ['code', 'c'],
        ['state', state],
      ]),
    )
    expect(good.status).toBe(200)
    await server.done
  })

  it.each([
    ['no browser headers', {}],
    ['Sec-Fetch-Site: none', { 'sec-fetch-site': 'none' }],
  ])('positive control: %s cancels the login', async (_name, headers) => {
    const { server, base } = await start()
    const page = await get(`${base}/cancel`, headers)
    expect(page.status).toBe(200)
    expect(page.body).toContain('Sign-in cancelled')
    expectSafePage(page)
    expect(isBrokerError(await rejectionOf(server.done), 'ERR_LOGIN_CANCELLED')).toBe(true)
    expect(await msUntilRefused(server.port)).toBeLessThan(1_000)
  })

  it('an abort signal cancels too', async () => {
    const controller = new AbortController()
    const { server } = await start({ signal: controller.signal })
    controller.abort()
    expect(isBrokerError(await rejectionOf(server.done), 'ERR_LOGIN_CANCELLED')).toBe(true)
    expect(await msUntilRefused(server.port)).toBeLessThan(1_000)
  })
})

describe('CB-09: ports', () => {
  it('binds 127.0.0.1 only, on the first registered port', async () => {
    const ports = await freePorts(2)
    const { server } = await start({ ports })
    expect(server.port).toBe(ports[0])
    expect(server.redirectUri).toBe(`http://127.0.0.1:${ports[0]}/auth/callback`)
    const onLocalhostV6 = await new Promise<string>((resolve) => {
      const socket = connect({ port: server.port, host: '::1' })
      socket.once('connect', () => {
        socket.destroy()
        resolve('CONNECTED')
      })
      socket.once('error', (error: NodeJS.ErrnoException) => {
        resolve(error.code ?? 'ERROR')
      })
    })
    expect(onLocalhostV6).not.toBe('CONNECTED')
  })

  it('a squatter that ignores /cancel: one /cancel, 10 retries 200 ms apart, then the next port', async () => {
    const ports = await freePorts(2)
    const [first, second] = ports as [number, number]
    const squatter = await squat(first)
    const { clock, retries } = fastRetryClock()
    const { server, state } = await start({ ports, clock })
    expect(server.port).toBe(second)
    expect(server.redirectUri).toBe(`http://127.0.0.1:${second}/auth/callback`)
    expect(squatter.paths).toEqual(['/cancel'])
    expect(retries).toEqual(Array<number>(BIND_RETRIES).fill(BIND_RETRY_DELAY_MS))
    const good = await get(
      callbackUrl(`http://127.0.0.1:${second}`, [
        ['code', 'c'],
        ['state', state],
      ]),
    )
    expect(good.status).toBe(200)
    await server.done
    expect(squatter.paths).toEqual(['/cancel'])
  })

  it('a stale sign-in server on the first port is cancelled and the port reused', async () => {
    const ports = await freePorts(2)
    const stale = await start({ ports: [ports[0] ?? 0] })
    const { server } = await start({ ports })
    expect(server.port).toBe(ports[0])
    expect(isBrokerError(await rejectionOf(stale.server.done), 'ERR_LOGIN_CANCELLED')).toBe(true)
  })

  it('every port busy → ERR_PORT_IN_USE with a clear message', async () => {
    const ports = await freePorts(2)
    const squatted = await Promise.all(ports.map(squat))
    const { clock, sleeps } = selfAdvancingClock()
    const error = await rejectionOf(
      startCallbackServer({
        ports,
        clock,
        expectedState: 's',
        onCallback: () => Promise.resolve(),
      }),
    )
    expect(isBrokerError(error, 'ERR_PORT_IN_USE')).toBe(true)
    expect((error as Error).message).toContain(`127.0.0.1:${ports[0]} or 127.0.0.1:${ports[1]}`)
    expect((error as Error).message).toMatch(/in use by another program/)
    expect((error as BrokerError).hint).toMatch(/--device/)
    expect(sleeps).toEqual(Array<number>(2 * BIND_RETRIES).fill(BIND_RETRY_DELAY_MS))
    expect(squatted.map((squatter) => squatter.paths)).toEqual([['/cancel'], ['/cancel']])
  })

  it('refuses an empty or invalid port list', async () => {
    for (const ports of [[], [0], [70_000], [1.5]]) {
      const error = await rejectionOf(
        startCallbackServer({ ports, expectedState: 's', onCallback: () => Promise.resolve() }),
      )
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    }
  })
})

describe('CB-10: the port closes at the end', () => {
  it('after success, within 1 s, dropping idle keep-alive connections', async () => {
    const { server, state, base } = await start()
    const idle: Socket = connect(server.port, '127.0.0.1')
    const idleClosed = new Promise<void>((resolve) =>
      idle.once('close', () => {
        resolve()
      }),
    )
    idle.on('error', () => undefined)
    await new Promise<void>((resolve) =>
      idle.once('connect', () => {
        resolve()
      }),
    )
    expect(
      (
        await get(
          callbackUrl(base, [
            ['code', 'c'],
            ['state', state],
          ]),
        )
      ).status,
    ).toBe(200)
    await server.done
    expect(await msUntilRefused(server.port)).toBeLessThan(1_000)
    await idleClosed
  })

  it('after an error answer, within 1 s', async () => {
    const { server, state, base } = await start()
    await get(
      callbackUrl(base, [
        ['error', 'access_denied'],
        ['state', state],
      ]),
    )
    await rejectionOf(server.done)
    expect(await msUntilRefused(server.port)).toBeLessThan(1_000)
  })

  it('after the timeout: ERR_LOGIN_TIMEOUT and closed within 1 s', async () => {
    const { server } = await start({ timeoutMs: 150 })
    const error = await rejectionOf(server.done)
    expect(isBrokerError(error, 'ERR_LOGIN_TIMEOUT')).toBe(true)
    expect((error as Error).message).toMatch(/150 ms/)
    expect(await msUntilRefused(server.port)).toBeLessThan(1_000)
  })

  it('positive control: while waiting, the port accepts connections', async () => {
    const { server } = await start()
    expect(await msUntilRefused(server.port, 200)).toBe(Infinity)
  })
})
