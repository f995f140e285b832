/**
 * The proxy's lifecycle: the bind address rules (loopback only, never a wildcard), a fresh token per launch,
 * the 0600 server-info file (its refusal of a symlink or of an existing file others can read, its removal on a
 * clean stop only while it still holds this launch's token), `GET /healthz` without the token, and
 * `POST /shutdown` only when enabled and only with the token, and the header/request timeouts that close a
 * slow request but never a long streamed answer.
 */
import { chmod, lstat, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { startProxy } from '../../src/proxy/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { parseSseFrames } from '../support/sse-frames.js'
import { call, postJson, rawHttp, responsesBody, useProxy } from './proxy-fixture.js'

describe('startProxy', () => {
  it('binds 127.0.0.1 with a fresh token per launch', async () => {
    const first = await useProxy()
    const second = await useProxy()
    expect(first.proxy.url).toBe(`http://127.0.0.1:${String(first.proxy.port)}`)
    expect(first.proxy.token.reveal()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.proxy.token.equals(second.proxy.token)).toBe(false)
    expect(JSON.stringify(first.proxy)).not.toContain(first.proxy.token.reveal())
  })

  it('refuses wildcard addresses always and other addresses without allowNonLoopback', async () => {
    const fixture = await useProxy()
    const upstream = { kind: 'openai' as const, apiKey: fixture.proxy.token, api: null as never }
    for (const host of ['0.0.0.0', '::']) {
      const error: unknown = await startProxy({ upstream, host, allowNonLoopback: true }).catch(
        (caught: unknown) => caught,
      )
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    }
    const error: unknown = await startProxy({ upstream, host: '10.1.2.3' }).catch(
      (caught: unknown) => caught,
    )
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
  })

  it('writes the server-info file 0600 with port, pid and token', async () => {
    const dir = await makeTempDir()
    const path = join(dir, 'server-info.json')
    const fixture = await useProxy({ serverInfoPath: path })
    const info = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    expect(info).toEqual({
      port: fixture.proxy.port,
      pid: process.pid,
      auth_token: fixture.proxy.token.reveal(),
    })
    expect((await lstat(path)).mode & 0o777).toBe(0o600)
  })

  it('refuses a server-info path that is a symlink, and does not keep listening', async () => {
    const dir = await makeTempDir()
    const target = join(dir, 'elsewhere.json')
    await writeFile(target, 'untouched')
    const path = join(dir, 'server-info.json')
    await symlink(target, path)
    const error: unknown = await useProxy({ serverInfoPath: path }).catch(
      (caught: unknown) => caught,
    )
    expect(isBrokerError(error, 'ERR_UNSAFE_FILE')).toBe(true)
    expect(await readFile(target, 'utf8')).toBe('untouched')
  })

  it('refuses an existing server-info file others can read and leaves it as it was; a private one is replaced', async () => {
    const dir = await makeTempDir()
    const path = join(dir, 'server-info.json')
    await writeFile(path, 'old', { mode: 0o644 })
    await chmod(path, 0o644)
    const error: unknown = await useProxy({ serverInfoPath: path }).catch(
      (caught: unknown) => caught,
    )
    expect(isBrokerError(error, 'ERR_UNSAFE_FILE')).toBe(true)
    expect((error as Error).message).toContain('mode 0644')
    expect((error as Error).message).toContain('chmod 600')
    expect(await readFile(path, 'utf8')).toBe('old')
    expect((await lstat(path)).mode & 0o777).toBe(0o644)

    // Positive control: the same file made private is replaced.
    await chmod(path, 0o600)
    const fixture = await useProxy({ serverInfoPath: path })
    const info = JSON.parse(await readFile(path, 'utf8')) as { port: number }
    expect(info.port).toBe(fixture.proxy.port)
  })

  it('removes the server-info file on close, but not one a later launch replaced', async () => {
    const dir = await makeTempDir()
    const path = join(dir, 'server-info.json')
    const first = await useProxy({ serverInfoPath: path })
    await first.proxy.close()
    const gone: unknown = await lstat(path).catch((caught: unknown) => caught)
    expect((gone as NodeJS.ErrnoException).code).toBe('ENOENT')

    const second = await useProxy({ serverInfoPath: path })
    const third = await useProxy({ serverInfoPath: path })
    await second.proxy.close()
    const info = JSON.parse(await readFile(path, 'utf8')) as { auth_token: string }
    expect(info.auth_token).toBe(third.proxy.token.reveal())
  })

  it('GET /healthz answers 204 without the token but not to a foreign Host or an Origin', async () => {
    const fixture = await useProxy()
    const health = await call(fixture.proxy, '/healthz', { method: 'GET' })
    expect(health.status).toBe(204)
    expect(health.text).toBe('')
    const { port } = fixture.proxy
    const foreign = await rawHttp(
      port,
      `GET /healthz HTTP/1.1\r\nHost: evil.example:${String(port)}\r\nConnection: close\r\n\r\n`,
    )
    expect(foreign.status).toBe(403)
    const browser = await call(fixture.proxy, '/healthz', {
      method: 'GET',
      headers: { origin: 'https://evil.example' },
    })
    expect(browser.status).toBe(403)
    expect(fixture.upstreamCalls()).toBe(0)
  })

  it('POST /shutdown: 404 unless enabled; 401 without the token; 202 then closed with it', async () => {
    const disabled = await useProxy()
    expect((await call(disabled.proxy, '/shutdown', { headers: disabled.auth() })).status).toBe(404)

    const fixture = await useProxy({ httpShutdown: true })
    expect((await call(fixture.proxy, '/shutdown')).status).toBe(401)
    expect((await call(fixture.proxy, '/shutdown', { headers: fixture.auth() })).status).toBe(202)
    await fixture.proxy.closed
    const refused: unknown = await call(fixture.proxy, '/healthz', { method: 'GET' }).catch(
      (caught: unknown) => caught,
    )
    expect(refused).toBeInstanceOf(Error)
  })
})

describe('timeouts (SECURITY.md C2.9, PX-09)', () => {
  it('a request whose headers never finish gets 408 and is closed; the proxy keeps serving', async () => {
    const fixture = await useProxy({ headersTimeoutMs: 200, requestTimeoutMs: 400 })
    const { port } = fixture.proxy
    const started = Date.now()
    const slow = await rawHttp(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${String(port)}\r\n`)
    expect(slow.status).toBe(408)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect((await call(fixture.proxy, '/healthz', { method: 'GET' })).status).toBe(204)
  })

  it('the request timeout never cuts a streamed answer that outlasts it', async () => {
    const fixture = await useProxy({ headersTimeoutMs: 200, requestTimeoutMs: 400 })
    fixture.sim.control.configure({ streamChunks: 10, streamDelayMs: 150 })
    const started = Date.now()
    const answer = await postJson(fixture, responsesBody('slow'))
    expect(Date.now() - started).toBeGreaterThan(1_000)
    expect(answer.status).toBe(200)
    expect(parseSseFrames(answer.text).at(-1)?.event).toBe('response.completed')
  })
})
