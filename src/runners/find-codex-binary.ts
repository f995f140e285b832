/**
 * Where the official Codex CLI is, in this order: the path the caller configured; an executable `codex` in one of
 * the `PATH` directories given (absolute ones only: a relative entry would resolve against whatever the current
 * directory is); the optional `@openai/codex` npm package, resolved from this module (or from `packageFrom`).
 * The npm package's `bin` is a Node script (`bin/codex.js`, which starts the native binary of the platform
 * package); scripts are run with the current Node executable, so neither a shebang nor `node` on the child's
 * `PATH` is needed. Not found is `ERR_INVALID_CONFIG` with the fix.
 */
import { constants } from 'node:fs'
import { access, readFile, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { BrokerError } from '../lib/index.js'

/** The npm package of the official CLI. */
export const CODEX_PACKAGE = '@openai/codex'

/** Options of {@link findCodexBinary}. */
export interface FindCodexBinaryOptions {
  /** An explicit path to `codex` (or to its `codex.js`); used as is when given. */
  readonly binary?: string
  /** A `PATH`-style list of directories to search for `codex`. */
  readonly searchPath?: string
  /**
   * A file or directory to resolve `@openai/codex` from (default: this module's location); null skips the
   * package.
   */
  readonly packageFrom?: string | null
}

/** How to start the CLI. */
export interface CodexBinary {
  /** The executable to spawn (the CLI itself, or Node for a script). */
  readonly command: string
  /** Arguments before the CLI's own (the script path when `command` is Node). */
  readonly prefixArgs: readonly string[]
  /** Where it was found. */
  readonly source: 'option' | 'path' | 'package'
  /** The CLI's file. */
  readonly path: string
}

const SCRIPT = /\.(?:c|m)?js$/

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function binaryAt(path: string, source: CodexBinary['source']): CodexBinary {
  return SCRIPT.test(path)
    ? { command: process.execPath, prefixArgs: [path], source, path }
    : { command: path, prefixArgs: [], source, path }
}

async function fromPackage(from: string): Promise<string | null> {
  let manifestPath: string
  try {
    const base =
      (await stat(from).catch(() => null))?.isDirectory() === true ? join(from, 'x.js') : from
    manifestPath = createRequire(base).resolve(`${CODEX_PACKAGE}/package.json`)
  } catch {
    return null
  }
  try {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { bin?: unknown }
    const bin =
      typeof manifest.bin === 'string'
        ? manifest.bin
        : typeof manifest.bin === 'object' && manifest.bin !== null
          ? (manifest.bin as Record<string, unknown>).codex
          : undefined
    if (typeof bin !== 'string') return null
    const path = resolve(dirname(manifestPath), bin)
    return (await stat(path)).isFile() ? path : null
  } catch {
    return null
  }
}

/**
 * Finds the Codex CLI.
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` when the configured path is not an executable file, or when the CLI
 * is found nowhere.
 * @example
 * const codex = await findCodexBinary({ searchPath: '/usr/local/bin:/usr/bin' })
 * spawn(codex.command, [...codex.prefixArgs, 'exec', '--json'])
 */
export async function findCodexBinary(options: FindCodexBinaryOptions = {}): Promise<CodexBinary> {
  if (options.binary !== undefined) {
    const path = resolve(options.binary)
    const usable = SCRIPT.test(path)
      ? (await stat(path).catch(() => null))?.isFile() === true
      : await isExecutableFile(path)
    if (!usable) {
      throw new BrokerError(
        'ERR_INVALID_CONFIG',
        `The configured Codex CLI ${path} is not an executable file.`,
        {
          hint: 'Point the runner at the `codex` binary, or install it: npm install -g @openai/codex',
        },
      )
    }
    return binaryAt(path, 'option')
  }
  for (const dir of (options.searchPath ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue
    const candidate = join(dir, 'codex')
    if (await isExecutableFile(candidate)) return binaryAt(candidate, 'path')
  }
  if (options.packageFrom !== null) {
    const path = await fromPackage(options.packageFrom ?? import.meta.filename)
    if (path !== null) return binaryAt(path, 'package')
  }
  throw new BrokerError('ERR_INVALID_CONFIG', 'The official Codex CLI (`codex`) was not found.', {
    hint: 'Install it (npm install -g @openai/codex, or add @openai/codex to your project), put it on the PATH given to the runner, or pass its path as the `binary` option.',
  })
}
