/**
 * `dumpDir` (`--dump-dir`): each proxied exchange leaves a request and a response dump in a 0700 directory, each
 * 0600, that show what was sent and answered (the positive control: the prompt and the streamed text are there)
 * with nothing secret in them: not the proxy token in either header, not a token-like value in the body, not
 * any secret the simulator issued. An unsafe dump directory refuses to start.
 */
import { lstat, readdir, readFile, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { postJson, responsesBody, useProxy } from './proxy-fixture.js'

async function dumpsIn(dir: string, count: number): Promise<string[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort()
    if (names.length >= count) return names
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`expected ${String(count)} dumps in ${dir}`)
}

describe('dumpDir', () => {
  it('writes redacted 0600 request/response dumps into a 0700 directory', async () => {
    const root = await makeTempDir()
    const dir = join(root, 'dumps')
    const fixture = await useProxy({ dumpDir: dir })
    const canaryKey = `sk-proj-${'A1b2C3d4'.repeat(5)}`
    const body = {
      ...responsesBody('dump me please'),
      metadata: { api_key: canaryKey, note: `Bearer ${fixture.account.accessToken}` },
    }
    const answer = await postJson(fixture, body, {
      authorization: `Bearer ${fixture.proxy.token.reveal()}`,
    })
    expect(answer.status).toBe(200)
    const names = await dumpsIn(dir, 2)
    expect(names).toHaveLength(2)
    expect(names[0]).toMatch(/-000001-request\.json$/)
    expect(names[1]).toMatch(/-000001-response\.json$/)
    expect((await lstat(dir)).mode & 0o777).toBe(0o700)

    const texts: string[] = []
    for (const name of names) {
      expect((await lstat(join(dir, name))).mode & 0o777).toBe(0o600)
      texts.push(await readFile(join(dir, name), 'utf8'))
    }
    const [requestText = '', responseText = ''] = texts
    const request = JSON.parse(requestText) as {
      method: string
      path: string
      headers: Record<string, string>
      body: { input: unknown; metadata: Record<string, string> }
    }
    expect(request.method).toBe('POST')
    expect(request.path).toBe('/v1/responses')
    expect(request.headers['x-proxy-token']).toBe('[REDACTED]')
    expect(request.headers.authorization).toBe('[REDACTED]')
    expect(request.headers['content-type']).toBe('application/json')
    expect(JSON.stringify(request.body.input)).toContain('dump me please')
    expect(request.body.metadata.api_key).toBe('[REDACTED]')
    expect(request.body.metadata.note).toBe('Bearer [REDACTED]')

    const response = JSON.parse(responseText) as {
      status: number
      completed: boolean
      truncated: boolean
      bytes: number
      body: string
    }
    expect(response.status).toBe(200)
    expect(response.completed).toBe(true)
    expect(response.truncated).toBe(false)
    expect(response.bytes).toBe(Buffer.byteLength(answer.text))
    expect(response.body).toContain('Echo: dump me please')

    const secrets = [fixture.proxy.token.reveal(), canaryKey, ...fixture.sim.control.issued()]
    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret)
  })

  it('numbers exchanges and dumps a refused upstream answer too', async () => {
    const dir = join(await makeTempDir(), 'dumps')
    const fixture = await useProxy({ dumpDir: dir })
    fixture.sim.control.injectFault({
      route: '/backend-api/codex/responses',
      kind: 'cloudflare',
      count: 1,
    })
    const refused = await postJson(fixture, responsesBody('first'))
    expect(refused.status).toBe(502)
    const ok = await postJson(fixture, responsesBody('second'))
    expect(ok.status).toBe(200)
    const names = await dumpsIn(dir, 4)
    expect(names.filter((name) => name.includes('-000002-'))).toHaveLength(2)
    const first = JSON.parse(
      await readFile(
        join(dir, names.find((name) => name.endsWith('000001-response.json')) ?? ''),
        'utf8',
      ),
    ) as { status: number; body: { error: { code: string } } }
    expect(first.status).toBe(502)
    expect(first.body.error.code).toBe('ERR_UPSTREAM_CHALLENGE')
  })

  it('refuses a dump directory that is a symlink and does not keep listening', async () => {
    const root = await makeTempDir()
    const link = join(root, 'link')
    await symlink(await makeTempDir(), link)
    const error: unknown = await useProxy({ dumpDir: link }).catch((caught: unknown) => caught)
    expect(isBrokerError(error, 'ERR_UNSAFE_HOME')).toBe(true)
    // Positive control: a plain new directory under the same root is accepted.
    const fixture = await useProxy({ dumpDir: join(root, 'plain') })
    expect((await postJson(fixture, responsesBody('ok'))).status).toBe(200)
  })
})
