/**
 * Which working directory a remote `agent/run` may hand its agent. The agent's tools run as the server's user and
 * read (with a `workspace-write` sandbox, also write) the working directory, so a client that picks `cwd` picks
 * what the agent can see. By default the server accepts no `cwd` at all (each run gets a fresh empty directory);
 * a server started with `agentWorkDirs` accepts those directories and any directory inside them. Both sides are
 * compared after resolving symbolic links (`realpath`), so neither `..` nor a link leads out, and the run is given
 * the resolved path. The refusal never echoes the path sent.
 */
import { realpath, stat } from 'node:fs/promises'
import { isAbsolute, sep } from 'node:path'
import { RPC_ERROR_CODES, RpcError } from '../rpc/rpc-error.js'

function refused(message: string): RpcError {
  return new RpcError(RPC_ERROR_CODES.invalidParams, `Invalid params: ${message}`)
}

async function realDirectory(path: string): Promise<string | null> {
  try {
    const real = await realpath(path)
    return (await stat(real)).isDirectory() ? real : null
  } catch {
    return null
  }
}

/**
 * The real path of `cwd` when it is one of `allowed` or inside one; throws `-32602` otherwise.
 * @throws {RpcError} -32602 when no directory is allowed, or `cwd` is not an allowed existing directory.
 * @example
 * const cwd = await resolveAgentWorkDir(params.cwd, services.agentWorkDirs ?? [])
 */
export async function resolveAgentWorkDir(
  cwd: string,
  allowed: readonly string[],
): Promise<string> {
  if (allowed.length === 0) {
    throw refused(
      'cwd is not accepted: this server was started without agent working directories (agentWorkDirs), so each run gets a fresh empty directory. Leave cwd out.',
    )
  }
  if (!isAbsolute(cwd)) throw refused('cwd must be an absolute path.')
  const real = await realDirectory(cwd)
  if (real !== null) {
    for (const root of allowed) {
      const realRoot = await realDirectory(root)
      if (realRoot === null) continue
      const prefix = realRoot.endsWith(sep) ? realRoot : `${realRoot}${sep}`
      if (real === realRoot || real.startsWith(prefix)) return real
    }
  }
  throw refused(
    'cwd must be an existing directory inside one of the agent working directories this server allows.',
  )
}
