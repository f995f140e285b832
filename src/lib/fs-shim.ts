/**
 * The narrow file-system surface that the secret-file modules (`safe-write`, `safe-dir`,
 * `safe-read`) use, and its real implementation over `node:fs/promises`. Everything goes through
 * this object so a test can substitute a recording or failing shim and assert the exact order of
 * system calls (SECURITY.md FS: `open(tmp, O_EXCL|O_NOFOLLOW, 0600) → write → fsync(tmp) → rename
 * → fsync(dir)`), or inject `ENOSPC`/`EIO` at any step.
 */
import { constants } from 'node:fs'
import * as fsp from 'node:fs/promises'
import type { FileTypeStat } from './file-mode.js'

/** The subset of `fs.Stats` the safe-file modules read. */
export interface SafeFileStat extends FileTypeStat {
  readonly mode: number
  readonly uid: number
  readonly size: number
  readonly mtimeMs: number
  readonly nlink: number
}

/** The subset of `fs.promises.FileHandle` the safe-file modules use. */
export interface SafeFileHandle {
  /** `fchmod(2)`. */
  chmod(mode: number): Promise<void>
  /** Writes all of `data` from the current position. */
  writeFile(data: string | Uint8Array): Promise<void>
  /** `fsync(2)`. */
  sync(): Promise<void>
  /** `fstat(2)`. */
  stat(): Promise<SafeFileStat>
  /** `pread(2)` into `buffer`. */
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>
  /** `close(2)`. */
  close(): Promise<void>
}

/** The file-system functions the safe-file modules call. */
export interface SafeFs {
  lstat(path: string): Promise<SafeFileStat>
  stat(path: string): Promise<SafeFileStat>
  open(path: string, flags: number, mode?: number): Promise<SafeFileHandle>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  readdir(path: string): Promise<string[]>
  mkdir(path: string, options: { recursive?: boolean; mode?: number }): Promise<unknown>
  chmod(path: string, mode: number): Promise<void>
}

/**
 * The real implementation over `node:fs/promises`.
 *
 * @example
 * const recording: SafeFs = { ...nodeFs, rename: async (a, b) => { calls.push('rename'); await nodeFs.rename(a, b) } }
 */
export const nodeFs: SafeFs = {
  lstat: (path) => fsp.lstat(path),
  stat: (path) => fsp.stat(path),
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readdir: (path) => fsp.readdir(path),
  mkdir: (path, options) => fsp.mkdir(path, options),
  chmod: (path, mode) => fsp.chmod(path, mode),
}

/**
 * The numeric value of an `fs.constants` open flag, or 0 where the platform lacks it
 * (`O_NOFOLLOW`, `O_DIRECTORY` and `O_NONBLOCK` do not exist on Windows).
 *
 * @example
 * const flags = openFlag('O_RDONLY') | openFlag('O_NOFOLLOW')
 */
export function openFlag(name: string): number {
  const value: unknown = Reflect.get(constants, name)
  return typeof value === 'number' ? value : 0
}
