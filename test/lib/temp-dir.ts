/**
 * Test support for the file-system tests: a fresh private temporary directory per test, removed
 * when the test finishes (pass or fail).
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

/** Creates `os.tmpdir()/codex-broker-lib-XXXXXX` (real path) and schedules its removal. */
export async function makeTempDir(): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'codex-broker-lib-')))
  onTestFinished(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** True when the tests run as root (some ownership scenarios need `lchown`). */
export const isRoot = process.getuid?.() === 0
