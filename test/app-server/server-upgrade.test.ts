/**
 * The app-server's handshake (SECURITY.md C3, WS-01…WS-11): Origin, Host, authentication at the upgrade only,
 * the handshake timeout and shape checks, the failure throttle, the bind rules and the health routes. Every
 * refusal has a positive control beside it.
 */
import { describe, expect, it } from 'vitest'
import { BrokerError } from '../../src/lib/index.js'
import { startAppServer } from '../../src/app-server/server/start-app-server.js'
import * as jwt from './jwt-fixture.js'
import {
  firstAnswer,
  openClient,
  rawExchange,
  statusOf,
  TOKEN,
  upgradeRequest,
  upgradeStatus,
  useAppServer,
} from './ws-fixture.js'

const bearer = (value: string) => ({ authorization: value })

describe('authentication at the upgrade', () => {
  it('WS-01: no Authorization → 401 missing websocket bearer token, no method ever runs', async () => {
    const { server, spy } = await useAppServer()
    const refused = await upgradeStatus(server, {})
    expect(refused).toMatchObject({ status: 401, body: 'missing websocket bearer token' })
    expect(spy.calls).toEqual([])
    const client = await openClient(server)
    expect(await client.call('initialize')).toMatchObject({ result: { server: 'test' } })
    expect(spy.calls).toEqual(['initialize'])
  })

  it('WS-02: wrong, same-length wrong, and padded tokens → 401; lowercase bearer accepted', async () => {
    const { server } = await useAppServer()
    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('l') ? 'm' : 'l')
    for (const value of [
      `Bearer wrong`,
      `Bearer ${sameLength}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
    ]) {
      const refused = await upgradeStatus(server, bearer(value))
      expect(refused.status, value).toBe(401)
      expect(refused.body).not.toContain(TOKEN)
    }
    // Node trims a header value's surrounding whitespace, so a trailing space is accepted (as codex trims).
    await openClient(server, bearer(`Bearer ${TOKEN} `))
    await openClient(server, bearer(`bearer ${TOKEN}`))
    // A newline inside a header value never reaches us: the client library refuses to send it.
    await expect(upgradeStatus(server, bearer(`Bearer ${TOKEN}\n`))).rejects.toThrow(
      /Invalid character/,
    )
  })

  it('WS-03: two Authorization headers → 401; one → 101', async () => {
    const { server } = await useAppServer()
    const twice = await rawExchange(
      server.port,
      upgradeRequest(server.port, [
        `Authorization: Bearer ${TOKEN}`,
        `Authorization: Bearer ${TOKEN}`,
      ]),
    )
    expect(statusOf(twice)).toBe(401)
    expect(twice).toContain('invalid authorization header')
    const first = await firstAnswer(
      server.port,
      upgradeRequest(server.port, [`Authorization: Bearer ${TOKEN}`]),
    )
    expect(statusOf(first)).toBe(101)
  })

  it('WS-04: JWT mode: a valid JWT initializes, an expired one is refused', async () => {
    const { server } = await useAppServer({ auth: { kind: 'jwt', verifier: jwt.verifier() } })
    const client = await openClient(server, bearer(`Bearer ${jwt.token()}`))
    expect(await client.call('initialize')).toMatchObject({ id: 1, result: { server: 'test' } })
    const expired = jwt.token(undefined, jwt.claims({ exp: jwt.NOW_S - 3600 }))
    expect(await upgradeStatus(server, bearer(`Bearer ${expired}`))).toMatchObject({
      status: 401,
      body: 'expired websocket jwt',
    })
  })

  it('WS-07/WS-08: a token in the query or in Sec-WebSocket-Protocol only → 401', async () => {
    const { server } = await useAppServer()
    expect((await upgradeStatus(server, {}, `/?token=${TOKEN}`)).status).toBe(401)
    expect((await upgradeStatus(server, { 'sec-websocket-protocol': TOKEN })).status).toBe(401)
    // With the header the query is simply ignored, and no subprotocol (a token, say) is ever echoed.
    const answer = await firstAnswer(
      server.port,
      upgradeRequest(server.port, [
        `Authorization: Bearer ${TOKEN}`,
        `Sec-WebSocket-Protocol: ${TOKEN}`,
      ]),
    )
    expect(statusOf(answer)).toBe(101)
    expect(answer.toLowerCase()).not.toContain('sec-websocket-protocol')
    await openClient(server, bearer(`Bearer ${TOKEN}`), '/?token=nonsense')
  })
})

describe('Origin and Host', () => {
  it('WS-05: the four Origins → 403 on upgrades and on /healthz, even with a valid token', async () => {
    const { server } = await useAppServer()
    const origins = [
      'https://evil.example',
      'http://1.2.3.4',
      'null',
      `http://127.0.0.1:${String(server.port)}`,
    ]
    for (const origin of origins) {
      const refused = await upgradeStatus(server, { origin, authorization: `Bearer ${TOKEN}` })
      expect(refused.status, origin).toBe(403)
      const health = await fetch(`http://127.0.0.1:${String(server.port)}/healthz`, {
        headers: { origin },
      })
      expect(health.status, origin).toBe(403)
    }
    await openClient(server)
  })

  it('refuses Host localhost:port (403), accepts 127.0.0.1:port', async () => {
    const { server } = await useAppServer()
    const refused = await upgradeStatus(server, {
      host: `localhost:${String(server.port)}`,
      authorization: `Bearer ${TOKEN}`,
    })
    expect(refused.status).toBe(403)
    const health = await rawExchange(
      server.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost:${String(server.port)}\r\n\r\n`,
    )
    expect(statusOf(health)).toBe(403)
    await openClient(server)
  })

  it('/healthz and /readyz answer 200 with an empty body; anything else 404', async () => {
    const { server } = await useAppServer()
    const base = `http://127.0.0.1:${String(server.port)}`
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(base + path)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('')
    }
    expect((await fetch(`${base}/`)).status).toBe(404)
    expect((await fetch(`${base}/healthz/x`)).status).toBe(404)
  })
})

describe('handshake shape and timeout', () => {
  it('WS-09: a partial upgrade is closed within the handshake timeout', async () => {
    const { server } = await useAppServer({ handshakeTimeoutMs: 300 })
    const started = Date.now()
    const answer = await rawExchange(
      server.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${String(server.port)}\r\n`,
    )
    const elapsed = Date.now() - started
    expect(elapsed).toBeLessThan(2_000)
    expect(answer === '' || statusOf(answer) === 408).toBe(true)
    // A connection that completed its handshake outlives the timeout.
    const client = await openClient(server)
    await new Promise((resolve) => setTimeout(resolve, 900))
    expect(await client.call('initialize')).toMatchObject({ result: { server: 'test' } })
  })

  it('WS-10: bad Sec-WebSocket-Key, bad version, POST → 400/426; a good client still connects', async () => {
    const { server } = await useAppServer()
    const auth = `Authorization: Bearer ${TOKEN}`
    const base = upgradeRequest(server.port, [auth])
    const badKey = base.replace('dGhlIHNhbXBsZSBub25jZQ==', 'not-a-key')
    const badVersion = base.replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 12')
    const post = upgradeRequest(server.port, [auth, 'Content-Length: 0'], 'POST')
    expect(statusOf(await rawExchange(server.port, badKey))).toBe(400)
    const version = await rawExchange(server.port, badVersion)
    expect(statusOf(version)).toBe(426)
    expect(version).toContain('Sec-WebSocket-Version: 13')
    expect(statusOf(await rawExchange(server.port, post))).toBe(400)
    await openClient(server)
  })
})

describe('WS-11: the failed-authentication throttle', () => {
  it('answers 429 after the threshold, while a valid client connects and calls a method', async () => {
    const { server } = await useAppServer({ maxAuthFailures: 20, authFailureWindowMs: 10_000 })
    const statuses: number[] = []
    const burst = (async () => {
      for (let index = 0; index < 100; index += 1) {
        const refused = await upgradeStatus(server, bearer('Bearer wrong'))
        statuses.push(refused.status)
        if (refused.status === 429)
          expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
      }
    })()
    while (statuses.length < 30) await new Promise((resolve) => setTimeout(resolve, 5))
    const client = await openClient(server)
    expect(await client.call('initialize')).toMatchObject({ result: { server: 'test' } })
    await burst
    expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true)
    expect(statuses.slice(20).every((status) => status === 429)).toBe(true)
    const late = await openClient(server)
    expect(await late.call('initialize')).toMatchObject({ result: { server: 'test' } })
  })
})

describe('binding', () => {
  it('refuses wildcards and a non-loopback host without auth; loopback without auth starts', async () => {
    const methods = new Map()
    for (const host of ['0.0.0.0', '::', '']) {
      await expect(startAppServer({ methods, auth: { kind: 'none' }, host })).rejects.toMatchObject(
        {
          code: 'ERR_INVALID_CONFIG',
        },
      )
    }
    const nonLoopback = startAppServer({ methods, auth: { kind: 'none' }, host: '192.0.2.1' })
    await expect(nonLoopback).rejects.toBeInstanceOf(BrokerError)
    await expect(nonLoopback).rejects.toThrow(/non-loopback listener needs --ws-auth/)
    const { server } = await useAppServer({ auth: { kind: 'none' } })
    await openClient(server, {})
  })

  it('maps a taken port to ERR_PORT_IN_USE', async () => {
    const { server } = await useAppServer()
    await expect(
      startAppServer({ methods: new Map(), auth: { kind: 'none' }, port: server.port }),
    ).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' })
  })
})
