/**
 * `codex-broker proxy` as a process: built CLI (`npx tsdown` first), a simulator, a home with a stored account.
 * ChatGPT mode writes the server-info file (0600) and serves a token holder; SIGTERM stops it with exit 0.
 * OpenAI mode reads the API key from standard input only, and the key never shows in argv, stdout or stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { FileCredentialStore } from '../../src/store/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const homes: string[] = []
const children: ChildProcessWithoutNullStreams[] = []

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

interface Running {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

function runProxy(args: string[], stdin?: string): Running {
  const child = spawn(process.execPath, [cli, 'proxy', ...args], { stdio: 'pipe' })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  if (stdin === undefined) child.stdin.end()
  else child.stdin.end(stdin)
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code) => {
      done(code)
    }),
  )
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

async function waitForLine(running: Running, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const match = pattern.exec(running.stdout())
    if (match) return match
    if (running.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `no ${String(pattern)}; stdout ${running.stdout()} stderr ${running.stderr()}`,
      )
    }
    await new Promise((done) => setTimeout(done, 25))
  }
}

async function freshHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'cb-proxy-cli-'))
  homes.push(home)
  return home
}

function responsesRequest(url: string, token: string, input: string) {
  return request(`${url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      model: 'gpt-5.4',
      input: [{ role: 'user', content: input }],
      stream: true,
    }),
  })
}

describe('codex-broker proxy', () => {
  it('chatgpt mode: server-info 0600, serves the token holder, SIGTERM → exit 0', async () => {
    const sim = await useSimulator()
    const account = await signIn(sim, { email: 'cli-proxy@example.com' })
    const home = await freshHome()
    const store = new FileCredentialStore({ home })
    await store.put(
      accountFromSignIn(
        {
          idToken: Secret.from(account.idToken),
          accessToken: Secret.from(account.accessToken),
          refreshToken: Secret.from(account.refreshToken),
          expiresIn: null,
        },
        { now: Date.now() },
      ),
    )
    const info = join(home, 'server-info.json')
    const running = runProxy([
      '--server-info',
      info,
      '--home',
      home,
      '--issuer',
      sim.issuer,
      '--backend-url',
      sim.backendBase,
    ])
    const [, url = ''] = await waitForLine(running, /listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    expect((await stat(info)).mode & 0o777).toBe(0o600)
    const written = JSON.parse(await readFile(info, 'utf8')) as {
      port: number
      pid: number
      auth_token: string
    }
    expect(url).toBe(`http://127.0.0.1:${String(written.port)}`)
    expect(written.pid).toBe(running.child.pid)

    const answer = await responsesRequest(url, written.auth_token, 'from the cli')
    expect(answer.statusCode).toBe(200)
    expect(answer.headers['content-type']).toBe('text/event-stream')
    expect(await answer.body.text()).toContain('response.completed')
    const refused = await responsesRequest(url, 'wrong', 'nope')
    expect(refused.statusCode).toBe(401)
    await refused.body.dump()

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    // A clean stop removes the server-info file: its token is dead.
    await expect(stat(info)).rejects.toThrow(/ENOENT/)
    expect(running.stderr()).not.toContain(written.auth_token)
    expect(running.stdout()).not.toContain(written.auth_token)
  })

  it('openai mode: key from stdin only, never printed; token once on stderr; /shutdown → exit 0', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const home = await freshHome()
    const args = [
      '--upstream',
      'openai',
      '--api-key-stdin',
      '--http-shutdown',
      '--json',
      '--home',
      home,
    ]
    const running = runProxy([...args, '--api-url', sim.apiBase], `${apiKey}\n`)
    const [line = ''] = await waitForLine(running, /\{"event":"listening".*\}\n/)
    const event = JSON.parse(line) as { event: string; url: string; port: number }
    expect(event.url).toBe(`http://127.0.0.1:${String(event.port)}`)
    await expect.poll(() => running.stderr(), { timeout: 5_000 }).toMatch(/token/i)
    const token = /: (\S+)\n$/.exec(running.stderr())?.[1] ?? ''
    expect(token.length).toBeGreaterThan(20)
    expect(running.stderr().split(token)).toHaveLength(2)

    const answer = await responsesRequest(event.url, token, 'api mode')
    expect(answer.statusCode).toBe(200)
    expect(await answer.body.text()).toContain('Echo: api mode')

    const shutdown = await request(`${event.url}/shutdown`, {
      method: 'POST',
      headers: { 'x-proxy-token': token },
    })
    expect(shutdown.statusCode).toBe(202)
    await shutdown.body.dump()
    expect(await running.exited).toBe(0)
    expect(running.child.spawnargs.join(' ')).not.toContain(apiKey)
    expect(running.stdout()).not.toContain(apiKey)
    expect(running.stderr()).not.toContain(apiKey)
  })

  it('--host beyond loopback needs --allow-non-loopback, then prints a banner; --dump-dir writes redacted dumps', async () => {
    const sim = await useSimulator()
    const { apiKey } = sim.control.createApiKey()
    const home = await freshHome()
    const base = [
      '--upstream',
      'openai',
      '--api-key-stdin',
      '--home',
      home,
      '--api-url',
      sim.apiBase,
    ]
    const refused = runProxy([...base, '--host', '127.0.0.2'], `${apiKey}\n`)
    expect(await refused.exited).toBe(2)
    expect(refused.stderr()).toContain('--allow-non-loopback')

    const dumps = join(home, 'dumps')
    const info = join(home, 'info.json')
    const running = runProxy(
      [
        ...base,
        '--host',
        '127.0.0.2',
        '--allow-non-loopback',
        '--dump-dir',
        dumps,
        '--server-info',
        info,
      ],
      `${apiKey}\n`,
    )
    const [, url = ''] = await waitForLine(running, /listening on (http:\/\/127\.0\.0\.2:\d+)\n/)
    expect(running.stderr()).toContain('NOT loopback')
    const { auth_token: token } = JSON.parse(await readFile(info, 'utf8')) as { auth_token: string }
    const answer = await responsesRequest(url, token, 'dumped')
    expect(answer.statusCode).toBe(200)
    await answer.body.text()
    // Dumps are written atomically: wait until both have been renamed into place and no temp file is left.
    const finished = async (): Promise<string[]> => (await readdir(dumps)).sort()
    await expect
      .poll(async () => (await finished()).map((name) => name.replace(/^.*-/, '')), {
        timeout: 5_000,
      })
      .toEqual(['request.json', 'response.json'])
    for (const name of await finished()) {
      expect((await stat(join(dumps, name))).mode & 0o777).toBe(0o600)
      const text = await readFile(join(dumps, name), 'utf8')
      expect(text).not.toContain(token)
      expect(text).not.toContain(apiKey)
    }
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })

  it('openai mode without --api-key-stdin, or with an empty stdin, is a usage error', async () => {
    const home = await freshHome()
    const missing = runProxy(['--upstream', 'openai', '--home', home])
    expect(await missing.exited).toBe(2)
    expect(missing.stderr()).toContain('--api-key-stdin')
    const empty = runProxy(['--upstream', 'openai', '--api-key-stdin', '--home', home], '\n')
    expect(await empty.exited).toBe(2)
    expect(empty.stderr()).toContain('No API key')
  })
})
