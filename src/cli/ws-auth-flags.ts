/**
 * The listen and authentication flags of `codex-broker serve` (PROTOCOL.md §10): `--listen ws://IP:PORT`,
 * `--ws-auth capability-token|signed-bearer-token` and the flags of each mode. {@link planWsListen} is pure: it
 * checks the flags together and turns them into a plan (host, port, which auth to load), refusing every
 * combination that would be ambiguous or unsafe with an `ERR_INVALID_CONFIG` whose hint says what to do — a
 * hostname instead of an IP, `wss://` (TLS is not served here), a wildcard address, conflicting or orphaned
 * flags, and a non-loopback address without authentication (the server refuses to start, as the official one
 * does). {@link loadWsAuth} then reads the secret files through the private-file loaders (0600, no symbolic
 * link, not empty, under 64 KiB: SECURITY.md WS-06) and refuses a token file whose directory other users can
 * write to (FS-07), since they could replace the file with their own token.
 */
import { lstat } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { dirname, resolve } from 'node:path'
import {
  capabilityFromSha256,
  createJwtVerifier,
  loadCapabilityTokenFile,
  loadSharedSecretFile,
  type WsAuthMode,
} from '../app-server/index.js'
import { BrokerError, formatMode, quoteForShell } from '../lib/index.js'

/** The flags as commander hands them over (strings, or absent). */
export interface WsAuthFlags {
  readonly listen?: unknown
  readonly wsAuth?: unknown
  readonly wsTokenFile?: unknown
  readonly wsTokenSha256?: unknown
  readonly wsSharedSecretFile?: unknown
  readonly wsIssuer?: unknown
  readonly wsAudience?: unknown
  readonly wsMaxClockSkewSeconds?: unknown
}

/** Which authentication to load, with its settings; no secret is held here, only where to find it. */
export type WsAuthSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'capability-token-file'; readonly file: string }
  | { readonly kind: 'capability-token-sha256'; readonly sha256: string }
  | {
      readonly kind: 'signed-bearer-token'
      readonly secretFile: string
      readonly issuer?: string
      readonly audience?: string
      readonly maxClockSkewSeconds?: number
    }

/** Where `serve` listens and how it authenticates, once the flags are checked. */
export interface WsListenPlan {
  /** An IP address literal (IPv6 without brackets). */
  readonly host: string
  /** 0 means a free port. */
  readonly port: number
  /** True for 127.0.0.0/8 and ::1. */
  readonly loopback: boolean
  readonly auth: WsAuthSpec
}

/** The values of `--ws-auth`. */
export const WS_AUTH_MODES = ['capability-token', 'signed-bearer-token'] as const

const LISTEN = /^ws:\/\/(\[[^\]]*\]|[^:/?#[\]]*)(?::(\d*))?\/?$/i
const SHA256_HEX = /^[0-9a-f]{64}$/i
const WHOLE_NUMBER = /^\d+$/

function invalid(message: string, hint: string): BrokerError {
  return new BrokerError('ERR_INVALID_CONFIG', message, { hint })
}

/** A flag's string value; absent for undefined; an error for anything else (or an empty string). */
function text(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(`${flag} needs a value.`, `Give ${flag} a non-empty value, or leave it out.`)
  }
  return value
}

/** True for 127.0.0.0/8 and ::1 (also written out, or IPv4-mapped 127.x). */
export function isLoopbackAddress(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.')
  if (!isIPv6(host)) return false
  const lower = host.toLowerCase()
  if (lower === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(lower)) return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1]
  return mapped !== undefined && mapped.startsWith('127.')
}

function isWildcard(host: string): boolean {
  if (isIPv4(host)) return host === '0.0.0.0'
  return isIPv6(host) && /^[0:]+$/.test(host)
}

/** Parses `--listen ws://IP:PORT` into a host and port. */
function parseListen(value: string): { host: string; port: number } {
  const example = 'ws://127.0.0.1:4500'
  const trimmed = value.trim()
  if (/^wss:/i.test(trimmed)) {
    throw invalid(
      `--listen ${trimmed}: wss:// is not served; codex-broker serve speaks plain ws:// only.`,
      `Listen on loopback (--listen ${example}) and put a TLS-terminating proxy (Caddy, nginx) in front of it.`,
    )
  }
  const match = LISTEN.exec(trimmed)
  if (match === null) {
    throw invalid(
      `--listen must be ws://IP:PORT, got ${JSON.stringify(trimmed)}.`,
      `For example --listen ${example} (only this machine) or --listen ws://[::1]:4500.`,
    )
  }
  const rawHost = match[1] ?? ''
  const rawPort = match[2]
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  if (rawHost.startsWith('[') ? !isIPv6(host) : !isIPv4(host)) {
    throw invalid(
      `--listen needs an IP address, not ${JSON.stringify(rawHost)}: a host name may resolve to an address you did not mean.`,
      `Give the IP: --listen ${example} for this machine only (or ws://[::1]:PORT for IPv6).`,
    )
  }
  if (rawPort === undefined || rawPort === '') {
    throw invalid(
      `--listen ${trimmed} has no port.`,
      `Add one: --listen ws://${rawHost}:4500 (or :0 for a free port).`,
    )
  }
  const port = Number(rawPort)
  if (!Number.isSafeInteger(port) || port > 65_535) {
    throw invalid(
      `--listen port must be 0 to 65535, got ${rawPort}.`,
      `For example --listen ${example}.`,
    )
  }
  if (isWildcard(host)) {
    throw invalid(
      `--listen ${trimmed}: a wildcard address listens on every interface, and is refused.`,
      `Name one address: --listen ${example} for this machine, or the IP of the one interface to serve.`,
    )
  }
  return { host, port }
}

function capabilitySpec(file: string | undefined, sha256: string | undefined): WsAuthSpec {
  if (file !== undefined && sha256 !== undefined) {
    throw invalid(
      '--ws-token-file and --ws-token-sha256 are two ways to give the same token; use one.',
      'Keep --ws-token-file FILE (a 0600 file holding the token), or --ws-token-sha256 HEX (its SHA-256).',
    )
  }
  if (file !== undefined) return { kind: 'capability-token-file', file }
  if (sha256 !== undefined) {
    const hex = sha256.trim()
    if (!SHA256_HEX.test(hex)) {
      // Never repeat the value: it may be the token itself, pasted by mistake.
      throw invalid(
        `--ws-token-sha256 must be 64 hexadecimal characters (a SHA-256), got ${String(hex.length)} characters.`,
        'Compute it with: printf %s "$(cat token)" | sha256sum',
      )
    }
    return { kind: 'capability-token-sha256', sha256: hex.toLowerCase() }
  }
  throw invalid(
    '--ws-auth capability-token needs the token: --ws-token-file FILE or --ws-token-sha256 HEX.',
    'Create one: (umask 077 && openssl rand -hex 32 > ws-token), then add --ws-token-file ws-token.',
  )
}

function skewOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const seconds = Number(trimmed)
  if (!WHOLE_NUMBER.test(trimmed) || !Number.isSafeInteger(seconds)) {
    throw invalid(
      `--ws-max-clock-skew-seconds must be a whole number of seconds ≥ 0, got ${JSON.stringify(value)}.`,
      'For example --ws-max-clock-skew-seconds 30 (the default); keep it small.',
    )
  }
  return seconds
}

/**
 * Checks the listen and authentication flags together and returns the plan. Loads nothing.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` with a hint for every refused combination.
 *
 * @example
 * planWsListen({ listen: 'ws://127.0.0.1:4500', wsAuth: 'capability-token', wsTokenFile: 'tok' })
 * // { host: '127.0.0.1', port: 4500, loopback: true, auth: { kind: 'capability-token-file', file: 'tok' } }
 * @see PROTOCOL.md §10
 */
export function planWsListen(flags: WsAuthFlags): WsListenPlan {
  const listen = text(flags.listen, '--listen')
  const mode = text(flags.wsAuth, '--ws-auth')
  const tokenFile = text(flags.wsTokenFile, '--ws-token-file')
  const tokenSha256 = text(flags.wsTokenSha256, '--ws-token-sha256')
  const secretFile = text(flags.wsSharedSecretFile, '--ws-shared-secret-file')
  const issuer = text(flags.wsIssuer, '--ws-issuer')
  const audience = text(flags.wsAudience, '--ws-audience')
  const skewFlag = flags.wsMaxClockSkewSeconds
  const skew = text(
    typeof skewFlag === 'number' ? String(skewFlag) : skewFlag,
    '--ws-max-clock-skew-seconds',
  )

  if (mode !== undefined && !(WS_AUTH_MODES as readonly string[]).includes(mode)) {
    throw invalid(
      `--ws-auth must be one of ${WS_AUTH_MODES.join(', ')}, got ${JSON.stringify(mode)}.`,
      'Leave --ws-auth out for no authentication (loopback only).',
    )
  }
  if (mode !== 'capability-token' && (tokenFile !== undefined || tokenSha256 !== undefined)) {
    const flag = tokenFile === undefined ? '--ws-token-sha256' : '--ws-token-file'
    throw invalid(
      `${flag} needs --ws-auth capability-token.`,
      `Add --ws-auth capability-token (or drop ${flag}).`,
    )
  }
  if (mode !== 'signed-bearer-token') {
    const orphan = (
      [
        ['--ws-shared-secret-file', secretFile],
        ['--ws-issuer', issuer],
        ['--ws-audience', audience],
        ['--ws-max-clock-skew-seconds', skew],
      ] as const
    ).find(([, value]) => value !== undefined)?.[0]
    if (orphan !== undefined) {
      throw invalid(
        `${orphan} needs --ws-auth signed-bearer-token.`,
        `Add --ws-auth signed-bearer-token --ws-shared-secret-file FILE (or drop ${orphan}).`,
      )
    }
  }

  let auth: WsAuthSpec = { kind: 'none' }
  if (mode === 'capability-token') auth = capabilitySpec(tokenFile, tokenSha256)
  if (mode === 'signed-bearer-token') {
    if (secretFile === undefined) {
      throw invalid(
        '--ws-auth signed-bearer-token needs --ws-shared-secret-file FILE (the HS256 secret, at least 32 bytes).',
        'Create one: (umask 077 && openssl rand -base64 48 > ws-secret), then add --ws-shared-secret-file ws-secret.',
      )
    }
    const seconds = skewOf(skew)
    auth = {
      kind: 'signed-bearer-token',
      secretFile,
      ...(issuer === undefined ? {} : { issuer }),
      ...(audience === undefined ? {} : { audience }),
      ...(seconds === undefined ? {} : { maxClockSkewSeconds: seconds }),
    }
  }

  if (listen === undefined) {
    throw invalid(
      'codex-broker serve needs --listen ws://IP:PORT.',
      'For example --listen ws://127.0.0.1:4500 (this machine only; :0 picks a free port).',
    )
  }
  const { host, port } = parseListen(listen)
  const loopback = isLoopbackAddress(host)
  if (!loopback && auth.kind === 'none') {
    throw invalid(
      `--listen ${listen.trim()} is not a loopback address, and without --ws-auth anyone who can reach it could use the signed-in accounts: the server refuses to start.`,
      'Add --ws-auth capability-token --ws-token-file FILE (or signed-bearer-token), or listen on ws://127.0.0.1:PORT.',
    )
  }
  return { host, port, loopback, auth }
}

/** Refuses a secret file whose directory other users could write to: they could swap the file (FS-07). */
async function assertSafeDirectory(file: string): Promise<void> {
  if (process.platform === 'win32') return
  const directory = dirname(resolve(file))
  const stat = await lstat(directory)
  const uid = process.getuid?.()
  const quoted = quoteForShell(directory)
  if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) {
    throw new BrokerError(
      'ERR_UNSAFE_FILE',
      `Refusing to read ${file}: its directory ${directory} is owned by uid ${String(stat.uid)}, who could replace the file.`,
      { hint: 'Keep the file in a directory of yours (e.g. ~/.codex-broker, mode 0700).' },
    )
  }
  const sticky = (stat.mode & 0o1000) !== 0
  if ((stat.mode & 0o022) !== 0 && !sticky) {
    throw new BrokerError(
      'ERR_UNSAFE_FILE',
      `Refusing to read ${file}: its directory ${directory} has mode ${formatMode(stat.mode)}, so other users could replace the file.`,
      { hint: `Fix it with: chmod go-w ${quoted} (or move the file to a private directory).` },
    )
  }
}

/**
 * Loads what the plan names: reads and checks the token or secret file (their refusals pass through unchanged:
 * `ERR_UNSAFE_FILE` for a 0644 file, a symbolic link or a file over 64 KiB, `ERR_INVALID_CONFIG` for an empty
 * one, `ERR_NOT_FOUND` for a missing one) and builds the verifier. Only digests and keys in closures are kept.
 *
 * @example
 * const auth = await loadWsAuth(planWsListen(flags).auth)
 * @see SECURITY.md C3.3, WS-06
 */
export async function loadWsAuth(spec: WsAuthSpec): Promise<WsAuthMode> {
  switch (spec.kind) {
    case 'none':
      return { kind: 'none' }
    case 'capability-token-sha256':
      return { kind: 'capability', verifier: capabilityFromSha256(spec.sha256) }
    case 'capability-token-file': {
      const verifier = await loadCapabilityTokenFile(spec.file)
      await assertSafeDirectory(spec.file)
      return { kind: 'capability', verifier }
    }
    case 'signed-bearer-token': {
      const secret = await loadSharedSecretFile(spec.secretFile)
      await assertSafeDirectory(spec.secretFile)
      const verifier = createJwtVerifier({
        secret,
        ...(spec.issuer === undefined ? {} : { issuer: spec.issuer }),
        ...(spec.audience === undefined ? {} : { audience: spec.audience }),
        ...(spec.maxClockSkewSeconds === undefined
          ? {}
          : { maxClockSkewSeconds: spec.maxClockSkewSeconds }),
      })
      return { kind: 'jwt', verifier }
    }
  }
}
