import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as lib from '../../src/lib/index.js'

const libDir = fileURLToPath(new URL('../../src/lib/', import.meta.url))

describe('src/lib', () => {
  it('index re-exports the public primitives', () => {
    for (const name of [
      'Secret',
      'safeEqual',
      'sha256Hex',
      'redactText',
      'redactValue',
      'BrokerError',
      'isBrokerError',
      'toPublicError',
      'httpStatusFor',
      'ManualClock',
      'systemClock',
      'createLogger',
      'writeSecretFile',
      'ensurePrivateDir',
      'assertPrivateFile',
    ]) {
      expect(lib, name).toHaveProperty(name)
    }
  })

  it('never reads process.env and keeps index.ts to re-exports', async () => {
    const files = (await readdir(libDir)).filter((name) => name.endsWith('.ts'))
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const source = await readFile(join(libDir, file), 'utf8')
      expect(source, file).not.toMatch(/process\s*\.\s*env|process\[['"]env/)
      expect(source.trimStart().startsWith('/**'), `${file} opens with a module comment`).toBe(true)
    }
    const index = await readFile(join(libDir, 'index.ts'), 'utf8')
    const code = index.replace(/\/\*\*[\s\S]*?\*\//, '').trim()
    expect(code.split(/\n(?=export )/).every((statement) => statement.startsWith('export '))).toBe(
      true,
    )
  })
})
