/**
 * Where the Codex CLI is found, in order: the configured path, an executable `codex` on the given PATH (absolute
 * entries only), the `@openai/codex` package (its `bin` script, run with this Node); and the error with the fix
 * when it is nowhere.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { findCodexBinary } from '../../src/runners/index.js'
import { makeTempDir } from '../lib/temp-dir.js'

async function executable(path: string, mode = 0o755): Promise<string> {
  await writeFile(path, '#!/bin/sh\nexit 0\n')
  await chmod(path, mode)
  return path
}

async function fakePackage(root: string): Promise<string> {
  const dir = join(root, 'node_modules', '@openai', 'codex')
  await mkdir(join(dir, 'bin'), { recursive: true })
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: '@openai/codex', bin: { codex: 'bin/codex.js' } }),
  )
  await writeFile(join(dir, 'bin', 'codex.js'), '#!/usr/bin/env node\n')
  return join(dir, 'bin', 'codex.js')
}

describe('findCodexBinary', () => {
  it('uses the configured path first, even when PATH has another codex', async () => {
    const dir = await makeTempDir()
    const configured = await executable(join(dir, 'my-codex'))
    await mkdir(join(dir, 'bin'))
    await executable(join(dir, 'bin', 'codex'))
    const found = await findCodexBinary({ binary: configured, searchPath: join(dir, 'bin') })
    expect(found).toEqual({
      command: configured,
      prefixArgs: [],
      source: 'option',
      path: configured,
    })
  })

  it('runs a configured script with this Node', async () => {
    const dir = await makeTempDir()
    const script = join(dir, 'codex.mjs')
    await writeFile(script, 'console.log(1)\n')
    expect(await findCodexBinary({ binary: script })).toEqual({
      command: process.execPath,
      prefixArgs: [script],
      source: 'option',
      path: script,
    })
  })

  it('refuses a configured path that is missing or not executable', async () => {
    const dir = await makeTempDir()
    const plain = await executable(join(dir, 'codex'), 0o644)
    for (const binary of [plain, join(dir, 'missing')]) {
      const error: unknown = await findCodexBinary({ binary }).catch((caught: unknown) => caught)
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    }
  })

  it('searches the absolute PATH entries in order, skipping non-executables and relative entries', async () => {
    const dir = await makeTempDir()
    for (const name of ['a', 'b', 'c']) await mkdir(join(dir, name))
    await executable(join(dir, 'a', 'codex'), 0o644) // not executable: skipped
    const wanted = await executable(join(dir, 'b', 'codex'))
    await executable(join(dir, 'c', 'codex'))
    const searchPath = ['relative/bin', '', join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(
      ':',
    )
    const found = await findCodexBinary({ searchPath, packageFrom: null })
    expect(found).toMatchObject({ command: wanted, source: 'path' })
  })

  it('falls back to the @openai/codex package, whose bin script runs with this Node', async () => {
    const dir = await makeTempDir()
    const script = await fakePackage(dir)
    const found = await findCodexBinary({ searchPath: '/nonexistent', packageFrom: dir })
    expect(found).toEqual({
      command: process.execPath,
      prefixArgs: [script],
      source: 'package',
      path: script,
    })
  })

  it('not found anywhere: ERR_INVALID_CONFIG telling how to install it', async () => {
    const dir = await makeTempDir()
    const error: unknown = await findCodexBinary({ searchPath: dir, packageFrom: dir }).catch(
      (caught: unknown) => caught,
    )
    expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    expect(isBrokerError(error) ? error.hint : '').toContain('npm install -g @openai/codex')
  })
})
