/**
 * The flags of `codex-broker serve` (PROTOCOL.md §10): every refused combination answers ERR_INVALID_CONFIG with a
 * hint, every valid one gives the expected plan, and loading goes through the private-file loaders, so a 0644, a
 * symbolic-link, an empty or a 1 MB token file keeps the server from starting (SECURITY.md WS-06), as does a
 * token file in a directory other users can write to (FS-07).
 */
import { createHash } from 'node:crypto'
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { type BrokerErrorCode, isBrokerError } from '../../src/lib/index.js'
import {
  isLoopbackAddress,
  loadWsAuth,
  planWsListen,
  type WsAuthFlags,
  type WsAuthSpec,
} from '../../src/cli/ws-auth-flags.js'

const posix = process.platform !== 'win32'
const dirs: string[] = []
const SHA = 'a'.repeat(64)
const LISTEN = 'ws://127.0.0.1:4500'

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cb-ws-flags-'))
  dirs.push(dir)
  return dir
}

function refused(flags: WsAuthFlags): { message: string; hint: string } {
  let caught: unknown
  try {
    planWsListen(flags)
  } catch (error) {
    caught = error
  }
  expect(isBrokerError(caught, 'ERR_INVALID_CONFIG'), String(caught)).toBe(true)
  const error = caught as Error & { hint?: string }
  expect(error.hint ?? '').not.toBe('')
  return { message: error.message, hint: error.hint ?? '' }
}

async function loadRefused(spec: WsAuthSpec, code: BrokerErrorCode): Promise<string> {
  const error: unknown = await loadWsAuth(spec).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isBrokerError(error, code), String(error)).toBe(true)
  return (error as Error).message
}

describe('planWsListen: --listen', () => {
  it('accepts ws://IP:PORT on IPv4 and IPv6 loopback, and port 0', () => {
    expect(planWsListen({ listen: LISTEN })).toEqual({
      host: '127.0.0.1',
      port: 4500,
      loopback: true,
      auth: { kind: 'none' },
    })
    expect(planWsListen({ listen: 'ws://[::1]:0' })).toMatchObject({ host: '::1', port: 0 })
    expect(planWsListen({ listen: 'ws://127.0.0.2:1/' })).toMatchObject({ loopback: true })
  })

  it('needs --listen', () => {
    expect(refused({}).message).toContain('needs --listen ws://IP:PORT')
  })

  it('refuses a host name such as localhost: give the IP', () => {
    const { message, hint } = refused({ listen: 'ws://localhost:4500' })
    expect(message).toContain('needs an IP address')
    expect(hint).toContain('ws://127.0.0.1')
  })

  it('refuses wss:// (TLS is not served: put a TLS proxy in front)', () => {
    const { message, hint } = refused({ listen: 'wss://127.0.0.1:4500' })
    expect(message).toContain('wss:// is not served')
    expect(hint).toContain('TLS')
  })

  it.each([
    'http://127.0.0.1:4500',
    'stdio://',
    '127.0.0.1:4500',
    'ws://127.0.0.1:4500/path',
    'ws://127.0.0.1:4500?token=x',
    'ws://user@127.0.0.1:4500',
  ])('refuses %s: not ws://IP:PORT', (listen) => {
    expect(refused({ listen }).message).toMatch(/must be ws:\/\/IP:PORT|needs an IP address/)
  })

  it('refuses a missing or out-of-range port', () => {
    expect(refused({ listen: 'ws://127.0.0.1' }).message).toContain('has no port')
    expect(refused({ listen: 'ws://127.0.0.1:' }).message).toContain('has no port')
    expect(refused({ listen: 'ws://127.0.0.1:65536' }).message).toContain('0 to 65535')
  })

  it.each(['ws://0.0.0.0:4500', 'ws://[::]:4500'])(
    'refuses the wildcard address %s, even with auth',
    (listen) => {
      const { message } = refused({ listen, wsAuth: 'capability-token', wsTokenSha256: SHA })
      expect(message).toContain('wildcard')
    },
  )

  it('refuses a non-loopback address without --ws-auth: the server refuses to start', () => {
    const { message, hint } = refused({ listen: 'ws://192.168.1.20:4500' })
    expect(message).toContain('refuses to start')
    expect(hint).toContain('--ws-auth capability-token')
  })

  it('accepts a non-loopback address with auth', () => {
    expect(
      planWsListen({
        listen: 'ws://10.0.0.5:4500',
        wsAuth: 'capability-token',
        wsTokenSha256: SHA,
      }),
    ).toMatchObject({ host: '10.0.0.5', loopback: false })
  })

  it('knows which addresses are loopback', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopbackAddress(host), host).toBe(true)
    }
    for (const host of ['10.0.0.1', '128.0.0.1', '::2', 'localhost', '::ffff:10.0.0.1']) {
      expect(isLoopbackAddress(host), host).toBe(false)
    }
  })
})

describe('planWsListen: --ws-auth', () => {
  it('refuses an unknown mode and an empty value', () => {
    expect(refused({ listen: LISTEN, wsAuth: 'jwt' }).message).toContain(
      'capability-token, signed-bearer-token',
    )
    expect(refused({ listen: LISTEN, wsTokenFile: '' }).message).toContain('needs a value')
  })

  it('capability-token with a file, or with a SHA-256 (normalized to lower case)', () => {
    expect(
      planWsListen({ listen: LISTEN, wsAuth: 'capability-token', wsTokenFile: 'tok' }).auth,
    ).toEqual({ kind: 'capability-token-file', file: 'tok' })
    expect(
      planWsListen({ listen: LISTEN, wsAuth: 'capability-token', wsTokenSha256: 'AB'.repeat(32) })
        .auth,
    ).toEqual({ kind: 'capability-token-sha256', sha256: 'ab'.repeat(32) })
  })

  it('refuses --ws-token-file and --ws-token-sha256 together', () => {
    const { message } = refused({
      listen: LISTEN,
      wsAuth: 'capability-token',
      wsTokenFile: 'tok',
      wsTokenSha256: SHA,
    })
    expect(message).toContain('use one')
  })

  it('refuses either token flag without --ws-auth capability-token', () => {
    expect(refused({ listen: LISTEN, wsTokenFile: 'tok' }).message).toContain(
      '--ws-token-file needs --ws-auth capability-token',
    )
    expect(refused({ listen: LISTEN, wsTokenSha256: SHA }).message).toContain(
      '--ws-token-sha256 needs --ws-auth capability-token',
    )
    expect(
      refused({
        listen: LISTEN,
        wsAuth: 'signed-bearer-token',
        wsSharedSecretFile: 's',
        wsTokenFile: 'tok',
      }).message,
    ).toContain('--ws-token-file needs --ws-auth capability-token')
  })

  it('refuses capability-token without a token flag', () => {
    const { message, hint } = refused({ listen: LISTEN, wsAuth: 'capability-token' })
    expect(message).toContain('--ws-token-file FILE or --ws-token-sha256 HEX')
    expect(hint).toContain('openssl rand -hex 32')
  })

  it.each(['abc', 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64)])(
    'refuses the SHA-256 %s without repeating it',
    (sha) => {
      const { message } = refused({
        listen: LISTEN,
        wsAuth: 'capability-token',
        wsTokenSha256: sha,
      })
      expect(message).toContain('64 hexadecimal characters')
      expect(message).not.toContain(sha)
    },
  )

  it('signed-bearer-token with and without issuer, audience and skew', () => {
    expect(
      planWsListen({ listen: LISTEN, wsAuth: 'signed-bearer-token', wsSharedSecretFile: 's' }).auth,
    ).toEqual({ kind: 'signed-bearer-token', secretFile: 's' })
    expect(
      planWsListen({
        listen: LISTEN,
        wsAuth: 'signed-bearer-token',
        wsSharedSecretFile: 's',
        wsIssuer: 'my-app',
        wsAudience: 'codex-broker',
        wsMaxClockSkewSeconds: '0',
      }).auth,
    ).toEqual({
      kind: 'signed-bearer-token',
      secretFile: 's',
      issuer: 'my-app',
      audience: 'codex-broker',
      maxClockSkewSeconds: 0,
    })
  })

  it('refuses signed-bearer-token without --ws-shared-secret-file', () => {
    const { message, hint } = refused({ listen: LISTEN, wsAuth: 'signed-bearer-token' })
    expect(message).toContain('needs --ws-shared-secret-file')
    expect(hint).toContain('openssl rand')
  })

  it.each([
    ['--ws-shared-secret-file', { wsSharedSecretFile: 's' }],
    ['--ws-issuer', { wsIssuer: 'i' }],
    ['--ws-audience', { wsAudience: 'a' }],
    ['--ws-max-clock-skew-seconds', { wsMaxClockSkewSeconds: '5' }],
  ] as const)('refuses %s without signed-bearer-token', (flag, extra) => {
    expect(refused({ listen: LISTEN, ...extra }).message).toContain(
      `${flag} needs --ws-auth signed-bearer-token`,
    )
    expect(
      refused({ listen: LISTEN, wsAuth: 'capability-token', wsTokenSha256: SHA, ...extra }).message,
    ).toContain(`${flag} needs --ws-auth signed-bearer-token`)
  })

  it.each(['-1', '1.5', 'abc', '1e3', ' '])('refuses the skew %j', (skew) => {
    expect(
      refused({
        listen: LISTEN,
        wsAuth: 'signed-bearer-token',
        wsSharedSecretFile: 's',
        wsMaxClockSkewSeconds: skew,
      }).message,
    ).toMatch(/whole number of seconds|needs a value/)
  })
})

describe.runIf(posix)('loadWsAuth: through the private-file loaders', () => {
  it('none and a SHA-256 need no file', async () => {
    expect(await loadWsAuth({ kind: 'none' })).toEqual({ kind: 'none' })
    const token = 'the-token'
    const sha256 = createHash('sha256').update(token).digest('hex')
    const mode = await loadWsAuth({ kind: 'capability-token-sha256', sha256 })
    expect(mode.kind).toBe('capability')
    if (mode.kind !== 'capability') return
    expect(mode.verifier.verify(token)).toBe(true)
    expect(mode.verifier.verify('other')).toBe(false)
  })

  it('accepts a 0600 token file (positive control) and verifies its trimmed token', async () => {
    const file = join(await tempDir(), 'ws-token')
    await writeFile(file, 'abc123\n', { mode: 0o600 })
    const mode = await loadWsAuth({ kind: 'capability-token-file', file })
    expect(mode.kind).toBe('capability')
    if (mode.kind !== 'capability') return
    expect(mode.verifier.verify('abc123')).toBe(true)
    expect(JSON.stringify(mode)).not.toContain('abc123')
  })

  it('WS-06: refuses a 0644 token file with the chmod fix', async () => {
    const file = join(await tempDir(), 'ws-token')
    await writeFile(file, 'abc123\n', { mode: 0o644 })
    await chmod(file, 0o644)
    const message = await loadRefused({ kind: 'capability-token-file', file }, 'ERR_UNSAFE_FILE')
    expect(message).toContain('mode 0644')
    expect(message).toContain('chmod 600')
    expect(message).not.toContain('abc123')
  })

  it('WS-06: refuses a symbolic link to a 0600 token file', async () => {
    const dir = await tempDir()
    const target = join(dir, 'real')
    await writeFile(target, 'abc123\n', { mode: 0o600 })
    const link = join(dir, 'ws-token')
    await symlink(target, link)
    const message = await loadRefused(
      { kind: 'capability-token-file', file: link },
      'ERR_UNSAFE_FILE',
    )
    expect(message).toContain('symbolic link')
  })

  it('WS-06: refuses an empty (or blank) token file', async () => {
    const file = join(await tempDir(), 'ws-token')
    await writeFile(file, ' \n', { mode: 0o600 })
    const message = await loadRefused({ kind: 'capability-token-file', file }, 'ERR_INVALID_CONFIG')
    expect(message).toContain('empty')
  })

  it('WS-06: refuses a 1 MB token file', async () => {
    const file = join(await tempDir(), 'ws-token')
    await writeFile(file, 'a'.repeat(1024 * 1024), { mode: 0o600 })
    const message = await loadRefused({ kind: 'capability-token-file', file }, 'ERR_UNSAFE_FILE')
    expect(message).toContain('limit')
  })

  it('refuses a missing token file', async () => {
    const file = join(await tempDir(), 'absent')
    await loadRefused({ kind: 'capability-token-file', file }, 'ERR_NOT_FOUND')
  })

  it('FS-07: refuses a 0600 token file in a directory others can write to', async () => {
    const dir = await tempDir()
    const file = join(dir, 'ws-token')
    await writeFile(file, 'abc123\n', { mode: 0o600 })
    await chmod(dir, 0o777)
    const message = await loadRefused({ kind: 'capability-token-file', file }, 'ERR_UNSAFE_FILE')
    expect(message).toContain('other users could replace the file')
  })

  it('signed bearer: accepts a 0600 secret of ≥ 32 bytes, with issuer and audience', async () => {
    const file = join(await tempDir(), 'ws-secret')
    const secret = 's'.repeat(48)
    await writeFile(file, `${secret}\n`, { mode: 0o600 })
    const mode = await loadWsAuth({
      kind: 'signed-bearer-token',
      secretFile: file,
      issuer: 'my-app',
      audience: 'codex-broker',
      maxClockSkewSeconds: 5,
    })
    expect(mode.kind).toBe('jwt')
    if (mode.kind !== 'jwt') return
    const key = new TextEncoder().encode(secret)
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('my-app')
      .setAudience('codex-broker')
      .setExpirationTime('1m')
      .sign(key)
    expect((await mode.verifier.verify(good)).ok).toBe(true)
    const wrongAudience = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('my-app')
      .setAudience('someone-else')
      .setExpirationTime('1m')
      .sign(key)
    expect(await mode.verifier.verify(wrongAudience)).toEqual({
      ok: false,
      reason: 'websocket jwt audience mismatch',
    })
  })

  it('signed bearer: refuses a 0644, a short and a symlinked secret file', async () => {
    const dir = await tempDir()
    const loose = join(dir, 'loose')
    await writeFile(loose, 's'.repeat(48), { mode: 0o644 })
    await chmod(loose, 0o644)
    await loadRefused({ kind: 'signed-bearer-token', secretFile: loose }, 'ERR_UNSAFE_FILE')
    const short = join(dir, 'short')
    await writeFile(short, 'too-short', { mode: 0o600 })
    expect(
      await loadRefused({ kind: 'signed-bearer-token', secretFile: short }, 'ERR_INVALID_CONFIG'),
    ).toContain('at least 32')
    const link = join(dir, 'link')
    const real = join(dir, 'real')
    await writeFile(real, 's'.repeat(48), { mode: 0o600 })
    await symlink(real, link)
    await loadRefused({ kind: 'signed-bearer-token', secretFile: link }, 'ERR_UNSAFE_FILE')
  })
})
