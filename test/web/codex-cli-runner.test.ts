/**
 * `POST /run/stream` through the `codex-cli` runner (`runner: 'codex-cli'`), with the fake `codex` of
 * test/runners/fixtures against the simulator: a signed-in session's run streams the agent's text and `done` as
 * the same NDJSON lines as a direct run; a refresh token the CLI rotated is read back into the handler's own
 * credential store (the next run refreshes without a reuse, which the simulator would count); a second run of the
 * session while one is going is 409, and the browser leaving kills the run and frees the slot; a sign-in the
 * issuer revoked ends the session's sign-in; the API-key upstream refuses the runner at creation; and no issued
 * secret appears in any status, header, line or log line.
 */
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { CODEX_CLIENT_ID, refreshTokens } from '../../src/oauth/index.js'
import type { RunEvent } from '../../src/runners/index.js'
import { MemoryCredentialStore } from '../../src/store/index.js'
import { createCodexHandler } from '../../src/web/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { capturedLogger, FAKE_CODEX } from '../runners/fixtures.js'
import { COOKIE_SECRET, ndjsonEvents, signIn, useWebHandler } from './web-fixture.js'

/** A handler whose runs go through the codex-cli runner on the fake CLI, with its run directories in `tempDir`. */
async function useCliHandler(options: Parameters<typeof useWebHandler>[0] = {}) {
  const tempDir = join(await makeTempDir(), 'runs')
  await mkdir(tempDir, { mode: 0o700 })
  const credentialStore = new MemoryCredentialStore()
  const { logger, lines } = capturedLogger()
  const fixture = await useWebHandler({
    runner: 'codex-cli',
    codexCliRunner: { binary: FAKE_CODEX, tempDir },
    credentialStore,
    logger,
    maxRunMs: 30_000,
    ...options,
  })
  return { ...fixture, tempDir, credentialStore, logLines: lines }
}

async function storedRefreshToken(store: MemoryCredentialStore): Promise<string> {
  const [account] = await store.list()
  if (account?.auth.kind !== 'chatgpt') throw new Error('no ChatGPT account stored')
  return account.auth.refreshToken.reveal()
}

function textOf(events: Record<string, unknown>[]): string {
  return events.map((event) => (event.type === 'text' ? String(event.delta) : '')).join('')
}

/** Every issued secret that `text` contains (also base64url-encoded). */
function leaked(text: string, secrets: readonly string[]): string[] {
  return secrets.filter(
    (secret) => text.includes(secret) || text.includes(Buffer.from(secret).toString('base64url')),
  )
}

describe("POST /run/stream with runner: 'codex-cli'", () => {
  it("a signed-in session's run streams the agent's text, then done with usage; the run dir is gone", async () => {
    const fixture = await useCliHandler()
    const { cookie } = await signIn(fixture)
    const response = await fixture.call('/run/stream', {
      body: { prompt: 'hello from the web agent' },
      cookie,
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8')
    const events = await ndjsonEvents(response)
    expect(textOf(events)).toContain('hello from the web agent')
    const done = events.at(-1)
    expect(done).toMatchObject({
      type: 'done',
      usage: { input_tokens: expect.any(Number) as number },
    })
    expect(Object.keys(done ?? {}).sort()).toEqual(['type', 'usage'])
    for (const event of events.slice(0, -1)) {
      expect(Object.keys(event).sort()).toEqual(['delta', 'type'])
    }
    // The CLI (not the handler's direct path) called the backend, as the session's account.
    const [account] = fixture.sim.control.accounts()
    expect(fixture.sim.control.counters().responsesByAccount[account?.accountId ?? '']).toBe(1)
    expect(fixture.logLines.join('')).toContain('"runner.start"')
    expect(await readdir(fixture.tempDir)).toEqual([])
    expect(await (await fixture.call('/status', { cookie })).json()).toMatchObject({
      state: 'logged_in',
    })
  })

  it("the CLI's rotated refresh token is read back into the handler's store: a second run reuses nothing", async () => {
    const fixture = await useCliHandler()
    const { cookie } = await signIn(fixture)
    const original = await storedRefreshToken(fixture.credentialStore)
    const first = await fixture.call('/run/stream', {
      body: { prompt: 'fake-codex:refresh first' },
      cookie,
    })
    expect((await ndjsonEvents(first)).at(-1)).toMatchObject({ type: 'done' })
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
    const rotated = await storedRefreshToken(fixture.credentialStore)
    expect(rotated).not.toBe(original)
    // The second run lends what the store now holds; the CLI refreshes with it.
    const second = await fixture.call('/run/stream', {
      body: { prompt: 'fake-codex:refresh second' },
      cookie,
    })
    expect((await ndjsonEvents(second)).at(-1)).toMatchObject({ type: 'done' })
    expect(fixture.sim.control.counters().refreshCalls).toBe(2)
    expect(fixture.sim.control.counters().reuseEvents).toBe(0)
    // Positive control: presenting the token the CLI rotated away is a reuse the simulator counts.
    const issuer = { issuer: fixture.sim.issuer, clientId: CODEX_CLIENT_ID }
    await expect(
      refreshTokens(issuer, Secret.from(original), 'proactive_expiry'),
    ).rejects.toMatchObject({ code: 'ERR_REFRESH_REUSED' })
    expect(fixture.sim.control.counters().reuseEvents).toBe(1)
  })

  it('a second run while one is going is 409; the browser leaving kills the run and frees the slot', async () => {
    const fixture = await useCliHandler()
    const { cookie } = await signIn(fixture)
    // A slow backend keeps the fake CLI waiting for its answer.
    fixture.sim.control.configure({ streamDelayMs: 200, streamChunks: 100 })
    const first = await fixture.call('/run/stream', { body: { prompt: 'long' }, cookie })
    expect(first.status).toBe(200)
    const reader = (first.body as ReadableStream<Uint8Array>).getReader()
    const pending = reader.read()
    const deadline = Date.now() + 10_000
    while ((await readdir(fixture.tempDir)).length === 0 && Date.now() < deadline) await sleep(10)
    expect(await readdir(fixture.tempDir)).toHaveLength(1)
    const second = await fixture.call('/run/stream', { body: { prompt: 'again' }, cookie })
    expect(second.status).toBe(409)
    expect(await second.json()).toMatchObject({ error: { code: 'run_in_progress' } })
    await reader.cancel()
    expect(await pending).toMatchObject({ done: true })
    // The cancel resolved after the run's cleanup: its directory is gone.
    expect(await readdir(fixture.tempDir)).toEqual([])
    fixture.sim.control.configure({ streamDelayMs: 0, streamChunks: 1 })
    const third = await fixture.call('/run/stream', { body: { prompt: 'after' }, cookie })
    expect(third.status).toBe(200)
    expect((await ndjsonEvents(third)).at(-1)).toMatchObject({ type: 'done' })
  })

  it('a sign-in the issuer revoked ends with an error line and ends the session sign-in', async () => {
    const fixture = await useCliHandler({ idleTimeoutMs: 3 * 3_600_000 })
    const { cookie } = await signIn(fixture)
    const [account] = fixture.sim.control.accounts()
    fixture.sim.control.revokeAccount({ accountId: account?.accountId ?? '' })
    // The token is due: the runner refreshes first, and the issuer refuses.
    fixture.clock.advance(2 * 3_600_000)
    const response = await fixture.call('/run/stream', { body: { prompt: 'hi' }, cookie })
    expect(response.status).toBe(200)
    const last = (await ndjsonEvents(response)).at(-1)
    expect(last).toMatchObject({ type: 'error' })
    expect(['refresh_revoked', 'refresh_reused', 'refresh_expired', 'needs_login']).toContain(
      last?.code,
    )
    expect(await (await fixture.call('/status', { cookie })).json()).toEqual({
      state: 'logged_out',
    })
    expect(await readdir(fixture.tempDir)).toEqual([])
  })

  it('the API-key upstream refuses the codex-cli runner (and a Runner) at creation, saying why', async () => {
    const apiKey = {
      kind: 'apiKey',
      apiKey: 'sk-test-0123456789',
      apiBase: 'http://127.0.0.1:9/v1',
    }
    const upstream = apiKey as { kind: 'apiKey'; apiKey: string; apiBase: string }
    expect(() =>
      createCodexHandler({ cookieSecret: COOKIE_SECRET, upstream, runner: 'codex-cli' }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }) as Error)
    expect(() =>
      createCodexHandler({ cookieSecret: COOKIE_SECRET, upstream, runner: 'codex-cli' }),
    ).toThrow(/needs the ChatGPT upstream/)
    const runner = {
      kind: 'direct',
      run: async function* (): AsyncGenerator<RunEvent, void, undefined> {
        yield await Promise.resolve({ type: 'done', usage: null } as const)
      },
    } as const
    expect(() => createCodexHandler({ cookieSecret: COOKIE_SECRET, upstream, runner })).toThrow(
      /needs the ChatGPT upstream/,
    )
    expect(() =>
      createCodexHandler({
        cookieSecret: COOKIE_SECRET,
        upstream,
        runner: 'codex' as 'codex-cli',
      }),
    ).toThrow(/runner must be/)
    expect(() =>
      createCodexHandler({
        cookieSecret: COOKIE_SECRET,
        codexCliRunner: { binary: FAKE_CODEX },
      }),
    ).toThrow(/codexCliRunner is set, but runner is not 'codex-cli'/)
    // Positive controls: the API key with the direct runner, and the ChatGPT upstream with codex-cli, start.
    const direct = createCodexHandler({ cookieSecret: COOKIE_SECRET, upstream, runner: 'direct' })
    await direct.close()
    const cli = createCodexHandler({
      cookieSecret: COOKIE_SECRET,
      upstream: { kind: 'chatgpt', backendBase: 'http://127.0.0.1:9/backend-api' },
      runner: 'codex-cli',
      codexCliRunner: { binary: FAKE_CODEX },
    })
    await cli.close()
  })

  it('token canary: no issued secret in any status, header, line or log line', async () => {
    const fixture = await useCliHandler()
    const seen: string[] = []
    const call = async (...args: Parameters<typeof fixture.call>): Promise<Response> => {
      const response = await fixture.call(...args)
      seen.push(`${String(response.status)} ${JSON.stringify([...response.headers])}`)
      seen.push(await response.clone().text())
      return response
    }
    const { cookie } = await signIn({ ...fixture, call })
    await ndjsonEvents(await call('/run/stream', { body: { prompt: 'first' }, cookie }))
    await ndjsonEvents(
      await call('/run/stream', { body: { prompt: 'fake-codex:refresh rotate' }, cookie }),
    )
    await call('/run/stream', { body: { prompt: 'x', model: 'nope' }, cookie })
    const issued = fixture.sim.control.issued()
    expect(fixture.sim.control.counters().refreshCalls).toBe(1)
    expect(issued.length).toBeGreaterThanOrEqual(6)
    const everything = [...seen, ...fixture.logLines].join('\n')
    expect(seen.join('\n')).toContain('"type":"done"')
    expect(fixture.logLines.length).toBeGreaterThan(3)
    expect(leaked(everything, issued)).toEqual([])
    // Positive control: the scan finds a token placed in the text.
    const [token = ''] = issued
    expect(leaked(`${everything} ${token}`, issued)).toEqual([token])
  })
})
