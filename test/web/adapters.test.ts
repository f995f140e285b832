/** The node, Express and Hono adapters over real loopback servers. */
import { once } from 'node:events'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { createCodexRouter } from '../../src/web/adapters/express.js'
import { createCodexRoutes } from '../../src/web/adapters/hono.js'
import { createCodexNodeListener, toNodeListener } from '../../src/web/adapters/node.js'
import { useSimulator } from '../support/sim.js'
import { COOKIE_SECRET } from './web-fixture.js'

const servers: Server[] = []
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  await Promise.all(closers.map((close) => close()))
  servers.length = 0
  closers.length = 0
})

async function listen(listener: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(listener)
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const pageHeaders = {
  'content-type': 'application/json',
  'sec-fetch-site': 'same-origin',
  'x-codex-broker': '1',
}

/** A raw request, so the target is sent exactly as written (fetch would normalise dot segments). */
function rawStatus(base: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/`, { method: 'POST', path, headers: pageHeaders }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end('{}')
  })
}

async function sessionThrough(base: string, path: string): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: pageHeaders, body: '{}' })
}

describe('web adapters', () => {
  it('node: serves the routes, sets the cookie, refuses dot segments before routing', async () => {
    const sim = await useSimulator()
    const listener = createCodexNodeListener({
      cookieSecret: COOKIE_SECRET,
      basePath: '/api/codex',
      upstream: { kind: 'chatgpt', issuer: sim.issuer, backendBase: sim.backendBase },
    })
    closers.push(listener.close)
    const base = await listen(listener)
    const session = await sessionThrough(base, '/api/codex/session')
    expect(session.status).toBe(200)
    expect(session.headers.getSetCookie()[0]).toMatch(/^__Host-Http-codex-broker=/)
    expect(await rawStatus(base, '/api/codex/session')).toBe(200)
    expect(await rawStatus(base, '/x/../api/codex/logout')).toBe(400)
    expect(await rawStatus(base, '/api/codex/%2e%2e/codex/logout')).toBe(400)
    expect(await rawStatus(base, '/api/codex/./session')).toBe(400)
  })

  it('node: a client that goes away mid-stream cancels the response body', async () => {
    let cancelled = false
    const listener = toNodeListener(() =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              controller.enqueue(new TextEncoder().encode('{"type":"text","delta":"x"}\n'))
              return new Promise((resolve) => setTimeout(resolve, 20))
            },
            cancel() {
              cancelled = true
            },
          }),
        ),
      ),
    )
    const base = await listen(listener)
    const controller = new AbortController()
    const response = await fetch(`${base}/stream`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    controller.abort()
    await expect.poll(() => cancelled, { timeout: 5_000 }).toBe(true)
  })

  it('express: mounted at /api/codex, also after express.json() consumed the body', async () => {
    const sim = await useSimulator()
    const router = createCodexRouter({
      cookieSecret: COOKIE_SECRET,
      upstream: { kind: 'chatgpt', issuer: sim.issuer, backendBase: sim.backendBase },
    })
    closers.push(router.close)
    const app = express()
    app.use('/api/codex', router)
    const parsed = express()
    parsed.use(express.json())
    parsed.use('/api/codex', router)
    for (const base of [await listen(app), await listen(parsed)]) {
      const session = await sessionThrough(base, '/api/codex/session')
      expect(session.status).toBe(200)
      expect(await session.json()).toEqual({ loggedIn: false, account: null })
      const cookie = (session.headers.getSetCookie()[0] ?? '').split(';')[0] ?? ''
      const logout = await fetch(`${base}/api/codex/logout`, {
        method: 'POST',
        headers: { ...pageHeaders, cookie },
        body: JSON.stringify({ everywhere: 'yes' }),
      })
      // The parsed body reaches the handler: the bad field is seen.
      expect(logout.status).toBe(400)
    }
  })

  it('hono: mounted with app.route', async () => {
    const sim = await useSimulator()
    const routes = createCodexRoutes({
      cookieSecret: COOKIE_SECRET,
      upstream: { kind: 'chatgpt', issuer: sim.issuer, backendBase: sim.backendBase },
    })
    closers.push(routes.close)
    const app = new Hono()
    app.route('/api/codex', routes)
    const response = await app.fetch(
      new Request('http://127.0.0.1:3000/api/codex/session', {
        method: 'POST',
        headers: pageHeaders,
        body: '{}',
      }),
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ loggedIn: false, account: null })
    const elsewhere = await app.fetch(
      new Request('http://127.0.0.1:3000/session', { method: 'POST' }),
    )
    expect(elsewhere.status).toBe(404)
  })
})
