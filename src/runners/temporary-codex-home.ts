/**
 * The private scratch space of one Codex CLI run: a fresh directory `codex-broker-run-XXXXXX` (mode 0700, made
 * by `mkdtemp`, checked with `ensurePrivateDir` in strict mode) under the system's temporary directory, holding
 *
 * - `home/` (0700): the run's `CODEX_HOME` and `HOME` — `config.toml` (written here, no secret) and the
 *   `auth.json` the runner writes under the account lock (0600, PROTOCOL.md §6); the CLI adds its session log and
 *   databases next to them;
 * - `work/` (0700): the default working directory of the agent, empty.
 *
 * `remove()` deletes the whole tree, also when the agent left read-only directories behind (their modes are
 * opened up and the removal retried), and never throws for a tree that is already gone.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensurePrivateDir, hasErrnoCode, PRIVATE_DIR_MODE } from '../lib/index.js'
import { codexConfigToml } from './codex-config-toml.js'

/** The prefix of every run directory (a leftover one is recognisable). */
export const RUN_DIR_PREFIX = 'codex-broker-run-'

/** Options of {@link createTemporaryCodexHome}. */
export interface TemporaryCodexHomeOptions {
  /** The Codex backend the CLI must talk to (goes into config.toml). */
  readonly backendBase: string
  /** Where the run directory is made; default `os.tmpdir()`. */
  readonly parent?: string
}

/** A run's scratch space. */
export interface TemporaryCodexHome {
  /** The run directory (everything below is deleted by `remove`). */
  readonly root: string
  /** `CODEX_HOME` and `HOME` of the run. */
  readonly home: string
  /** Where the runner writes the account's `auth.json`. */
  readonly authFile: string
  /** The generated `config.toml`. */
  readonly configFile: string
  /** An empty working directory for runs that name none. */
  readonly workDir: string
  /** Deletes the run directory and everything in it. */
  remove(): Promise<void>
}

async function openUp(path: string): Promise<void> {
  try {
    await chmod(path, PRIVATE_DIR_MODE)
    for (const entry of await readdir(path, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.isSymbolicLink()) await openUp(join(path, entry.name))
    }
  } catch (error) {
    if (!hasErrnoCode(error, 'ENOENT', 'ENOTDIR')) throw error
  }
}

async function removeTree(root: string): Promise<void> {
  try {
    await rm(root, { recursive: true, force: true })
  } catch (error) {
    if (!hasErrnoCode(error, 'EACCES', 'EPERM', 'ENOTEMPTY')) throw error
    await openUp(root)
    await rm(root, { recursive: true, force: true })
  }
}

/**
 * Creates a run's scratch space with its config.toml (auth.json is the caller's, under the account lock).
 *
 * @example
 * const scratch = await createTemporaryCodexHome({ backendBase })
 * try { await writeCodexAuthFile(scratch.authFile, account, provenance) … } finally { await scratch.remove() }
 */
export async function createTemporaryCodexHome(
  options: TemporaryCodexHomeOptions,
): Promise<TemporaryCodexHome> {
  const config = codexConfigToml(options.backendBase)
  const root = await mkdtemp(join(options.parent ?? tmpdir(), RUN_DIR_PREFIX))
  const remove = (): Promise<void> => removeTree(root)
  try {
    await ensurePrivateDir(root, { strict: true })
    const home = join(root, 'home')
    const workDir = join(root, 'work')
    await mkdir(home, { mode: PRIVATE_DIR_MODE })
    await mkdir(workDir, { mode: PRIVATE_DIR_MODE })
    await ensurePrivateDir(home, { strict: true, checkAncestors: false })
    await ensurePrivateDir(workDir, { strict: true, checkAncestors: false })
    const configFile = join(home, 'config.toml')
    await writeFile(configFile, config, { mode: 0o600, flag: 'wx' })
    return {
      root,
      home,
      authFile: join(home, 'auth.json'),
      configFile,
      workDir,
      remove,
    }
  } catch (error) {
    await remove()
    throw error
  }
}
