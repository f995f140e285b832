/**
 * `codex-broker serve` as a process: built CLI (`npx tsdown` first; npm test builds).
 * With a 0600 capability-token file it authenticates the upgrade, answers `initialize`, and serves
 * `responses/create` from an account signed in after it started (the pool re-reads the store); SIGTERM stops it
 * with exit 0 and the token is never printed. A 0644 token file, a non-loopback address without auth and
 * conflicting flags keep it from starting, with the message that says what to do.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Secret } from '../../src/lib/index.js'
import { accountFromSignIn } from '../../src/store/account-from-sign-in.js'
import { FileCredentialStore } from '../../src/store/index.js'
import { signIn } from '../support/sim-tokens.js'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const homes: string[] = []
const children: ChildProcessWithoutNullStreams[] = []
const sockets: WebSocket[] = []

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate()
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })))
})

interface Running {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

function runServe(args: string[]): Running {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: 'pipe' })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end()
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
  const home = await mkdtemp(join(tmpdir(), 'cb-serve-cli-'))
  homes.push(home)
  return home
}

/** Opens a socket; resolves with it, or with the HTTP status of a refused upgrade. */
function connect(url: string, token?: string): Promise<WebSocket | number> {
  const socket = new WebSocket(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  )
  sockets.push(socket)
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      resolve(socket)
    })
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      response.resume()
    })
    socket.once('error', reject)
  })
}

interface Message {
  id?: number
  method?: string
  params?: { event?: { type?: string; delta?: string } }
  result?: Record<string, unknown>
  error?: { code: number; message: string }
}

/** Sends one request and collects the notifications until its answer. */
function call(
  socket: WebSocket,
  id: number,
  method: string,
  params: unknown,
): Promise<{ answer: Message; notifications: Message[] }> {
  const notifications: Message[] = []
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData): void => {
      const message = JSON.parse(Buffer.from(data as Buffer).toString('utf8')) as Message
      if (message.id === id) {
        socket.off('message', onMessage)
        resolve({ answer: message, notifications })
      } else if (message.method !== undefined) notifications.push(message)
    }
    socket.on('message', onMessage)
    socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
  })
}

describe('codex-broker serve', () => {
  it('capability token file: authenticates, answers initialize, serves a later sign-in; SIGTERM → exit 0', async () => {
    const sim = await useSimulator()
    const home = await freshHome()
    const tokenFile = join(home, 'ws-token')
    const token = 'serve-cli-capability-token-0123456789abcdef'
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 })
    const running = runServe([
      '--listen',
      'ws://127.0.0.1:0',
      '--ws-auth',
      'capability-token',
      '--ws-token-file',
      tokenFile,
      '--home',
      home,
      '--issuer',
      sim.issuer,
      '--backend-url',
      sim.backendBase,
    ])
    const [, url = ''] = await waitForLine(running, /listening on (ws:\/\/127\.0\.0\.1:\d+)\n/)
    expect(running.stderr()).toContain('no ChatGPT account is signed in yet')
    expect(running.stderr()).not.toContain('NO authentication')

    expect(await connect(url)).toBe(401)
    expect(await connect(url, 'wrong-token')).toBe(401)
    const socket = await connect(url, token)
    if (typeof socket === 'number') throw new Error(`upgrade refused: ${String(socket)}`)
    const init = await call(socket, 1, 'initialize', {
      clientInfo: { name: 'serve-test', version: '1' },
    })
    expect(init.answer.error).toBeUndefined()
    expect(init.answer.result).toBeDefined()

    // Signed in after the server started: the pool picks the account up from the store.
    const account = await signIn(sim, { email: 'cli-serve@example.com' })
    await new FileCredentialStore({ home }).put(
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
    const created = await call(socket, 2, 'responses/create', {
      request: { model: 'gpt-5.4', input: [{ role: 'user', content: 'from serve' }] },
    })
    expect(created.answer.error).toBeUndefined()
    const text = created.notifications
      .filter((n) => n.method === 'responses/event')
      .map((n) =>
        n.params?.event?.type === 'response.output_text.delta' ? n.params.event.delta : '',
      )
      .join('')
    expect(text).toBe('Echo: from serve')
    socket.close()

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.stdout()).not.toContain(token)
    expect(running.stderr()).not.toContain(token)
  })

  it('no --ws-auth on loopback: --json listening event, the open-server banner, SIGINT → exit 0', async () => {
    const home = await freshHome()
    const running = runServe(['--listen', 'ws://127.0.0.1:0', '--home', home, '--json'])
    const [line = ''] = await waitForLine(running, /^\{.*"event":"listening".*\}\n/m)
    const event = JSON.parse(line) as { url: string; port: number; auth: string }
    expect(event.url).toBe(`ws://127.0.0.1:${String(event.port)}`)
    expect(event.auth).toBe('none')
    expect(running.stderr()).toContain('NO authentication')
    expect(running.stderr()).toContain('--ws-auth capability-token')
    const socket = await connect(event.url)
    expect(typeof socket).not.toBe('number')
    running.child.kill('SIGINT')
    expect(await running.exited).toBe(0)
  })

  it('signed bearer: a JWT with the right iss/aud connects; a wrong audience gets its 401 reason', async () => {
    const home = await freshHome()
    const secretFile = join(home, 'ws-secret')
    const secret = 'serve-cli-shared-secret-0123456789-abcdefghij'
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 })
    const running = runServe([
      '--listen',
      'ws://127.0.0.1:0',
      '--ws-auth',
      'signed-bearer-token',
      '--ws-shared-secret-file',
      secretFile,
      '--ws-issuer',
      'serve-test',
      '--ws-audience',
      'codex-broker',
      '--ws-max-clock-skew-seconds',
      '5',
      '--home',
      home,
    ])
    const [, url = ''] = await waitForLine(running, /listening on (ws:\/\/127\.0\.0\.1:\d+)\n/)
    const key = new TextEncoder().encode(secret)
    const mint = (audience: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('serve-test')
        .setAudience(audience)
        .setExpirationTime('1m')
        .sign(key)
    const socket = await connect(url, await mint('codex-broker'))
    if (typeof socket === 'number') throw new Error(`upgrade refused: ${String(socket)}`)
    const init = await call(socket, 1, 'initialize', {})
    expect(init.answer.result).toBeDefined()
    expect(await connect(url, await mint('someone-else'))).toBe(401)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    expect(running.stdout() + running.stderr()).not.toContain(secret)
  })

  it('WS-06: refuses to start with a 0644 token file', async () => {
    const home = await freshHome()
    const tokenFile = join(home, 'ws-token')
    await writeFile(tokenFile, 'loose-token-value-0123456789\n', { mode: 0o644 })
    await chmod(tokenFile, 0o644)
    const running = runServe([
      '--listen',
      'ws://127.0.0.1:0',
      '--ws-auth',
      'capability-token',
      '--ws-token-file',
      tokenFile,
      '--home',
      home,
    ])
    expect(await running.exited).toBe(1)
    expect(running.stderr()).toContain('ERR_UNSAFE_FILE')
    expect(running.stderr()).toContain('mode 0644')
    expect(running.stderr()).toContain(`chmod 600 ${tokenFile}`)
    expect(running.stderr()).not.toContain('loose-token-value')
    expect(running.stdout()).not.toContain('listening')
  })

  it('refuses a non-loopback address without --ws-auth', async () => {
    const running = runServe(['--listen', 'ws://192.0.2.10:4500', '--home', await freshHome()])
    expect(await running.exited).toBe(2)
    expect(running.stderr()).toContain('ERR_INVALID_CONFIG')
    expect(running.stderr()).toContain('refuses to start')
  })

  it.each([
    [
      [
        '--ws-auth',
        'capability-token',
        '--ws-token-file',
        'f',
        '--ws-token-sha256',
        'a'.repeat(64),
      ],
      'use one',
    ],
    [['--ws-token-file', 'f'], '--ws-token-file needs --ws-auth capability-token'],
    [['--ws-auth', 'signed-bearer-token'], 'needs --ws-shared-secret-file'],
    [['--ws-issuer', 'me'], '--ws-issuer needs --ws-auth signed-bearer-token'],
  ])('refuses conflicting flags %j', async (flags, message) => {
    const running = runServe([
      '--listen',
      'ws://127.0.0.1:0',
      '--home',
      await freshHome(),
      ...flags,
    ])
    expect(await running.exited).toBe(2)
    expect(running.stderr()).toContain('ERR_INVALID_CONFIG')
    expect(running.stderr()).toContain(message)
  })

  it('refuses a host name in --listen, and wss://', async () => {
    const named = runServe(['--listen', 'ws://localhost:4500', '--home', await freshHome()])
    expect(await named.exited).toBe(2)
    expect(named.stderr()).toContain('ws://127.0.0.1')
    const tls = runServe(['--listen', 'wss://127.0.0.1:4500', '--home', await freshHome()])
    expect(await tls.exited).toBe(2)
    expect(tls.stderr()).toContain('TLS')
  })
})
