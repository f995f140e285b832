/**
 * The proxy's server-info file, `{"port","pid","auth_token"}`, the way a client such as the Codex CLI finds a
 * proxy started with `--server-info`. It holds the capability token, so it is written like a credential (0600,
 * atomically, never through a symlink) and an existing file that others could read, or that belongs to someone
 * else, is refused rather than replaced: whoever loosened it or put it there may be watching it (SECURITY.md C2.3).
 * On a clean stop the file is removed, but only while it still holds this launch's token.
 */
import { lstat, readFile, unlink } from 'node:fs/promises'
import { resolve } from 'node:path'
import {
  BrokerError,
  formatMode,
  hasErrnoCode,
  quoteForShell,
  safeEqual,
  type Secret,
  writeSecretFile,
} from '../lib/index.js'

/** What the file says. */
export interface ServerInfo {
  readonly port: number
  readonly pid: number
  readonly token: Secret
}

/**
 * Writes the server-info file (0600).
 * @throws {BrokerError} `ERR_UNSAFE_FILE` when the path is a symlink or another non-regular file, or an existing
 * file has group/other permission bits or another owner.
 * @example
 * await writeServerInfo('/run/user/1000/proxy.json', { port, pid: process.pid, token })
 */
export async function writeServerInfo(path: string, info: ServerInfo): Promise<void> {
  await refuseLooseFile(resolve(path))
  const text = JSON.stringify({ port: info.port, pid: info.pid, auth_token: info.token.reveal() })
  await writeSecretFile(path, `${text}\n`)
}

/**
 * Removes the server-info file if it still holds `token` (a later launch may have replaced it).
 * @example
 * await removeServerInfo(path, proxy.token)
 */
export async function removeServerInfo(path: string, token: Secret): Promise<void> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
    const held =
      typeof parsed === 'object' && parsed !== null && 'auth_token' in parsed
        ? String(parsed.auth_token)
        : ''
    if (safeEqual(held, token.reveal())) await unlink(path)
  } catch {
    // Gone, unreadable or replaced: nothing of ours to remove.
  }
}

async function refuseLooseFile(path: string): Promise<void> {
  let stat
  try {
    stat = await lstat(path)
  } catch (error) {
    if (hasErrnoCode(error, 'ENOENT')) return
    throw error
  }
  // Symlinks and other non-regular files are refused by writeSecretFile with their own message.
  if (!stat.isFile() || process.platform === 'win32') return
  const quoted = quoteForShell(path)
  if ((stat.mode & 0o077) !== 0) {
    const fix = `Remove it (rm ${quoted}) or make it private (chmod 600 ${quoted}), then start again.`
    throw new BrokerError(
      'ERR_UNSAFE_FILE',
      `Refusing to write the proxy token to ${path}: it exists with mode ${formatMode(stat.mode)}, readable by others. ${fix}`,
      { hint: fix },
    )
  }
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) {
    const fix = `Remove it (rm ${quoted}) after checking who created it, then start again.`
    throw new BrokerError(
      'ERR_UNSAFE_FILE',
      `Refusing to write the proxy token to ${path}: it belongs to another user (uid ${String(stat.uid)}). ${fix}`,
      { hint: fix },
    )
  }
}
