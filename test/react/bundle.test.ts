// @vitest-environment node
/**
 * The built browser bundle (`dist/react/index.js`, built by `pretest`) is fit for a browser and carries no token:
 * no `node:` import or require, no `process.`/`Buffer`, no import other than React, and none of the field names
 * a token would travel under. Each check first proves on a planted string that it can fail.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const bundlePath = resolve(root, 'dist/react/index.js')
const typesPath = resolve(root, 'dist/react/index.d.ts')

const TOKEN_FIELDS = [
  'accessToken',
  'refreshToken',
  'idToken',
  'access_token',
  'refresh_token',
  'id_token',
  'apiKey',
  'api_key',
] as const

/** Everything in `source` a browser bundle must not contain, one message per finding. */
function browserBundleViolations(source: string): string[] {
  const found: string[] = []
  if (/\bfrom\s*["']node:|\bimport\s*\(?\s*["']node:|\brequire\s*\(\s*["']node:/.test(source))
    found.push('node: import or require')
  if (/\brequire\s*\(/.test(source)) found.push('require()')
  if (/\bprocess\s*\./.test(source)) found.push('process.')
  if (/\bBuffer\b/.test(source)) found.push('Buffer')
  for (const field of TOKEN_FIELDS) if (source.includes(field)) found.push(`token field ${field}`)
  const imports = [
    ...source.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g),
  ].map((match) => match[1] ?? match[2] ?? '')
  for (const specifier of imports)
    if (specifier !== 'react' && specifier !== 'react/jsx-runtime')
      found.push(`import of ${specifier}`)
  return found
}

describe('the scanner (positive controls)', () => {
  it.each([
    ["import 'node:fs'", 'node: import or require'],
    ['import { readFileSync } from "node:fs"', 'node: import or require'],
    ["const fs = require('node:fs')", 'node: import or require'],
    ["await import('node:crypto')", 'node: import or require'],
    ['if (process.env.X) run()', 'process.'],
    ["Buffer.from('x')", 'Buffer'],
    ['const body = { refresh_token: x }', 'token field refresh_token'],
    ['state.accessToken = t', 'token field accessToken'],
    ['headers.apiKey = k', 'token field apiKey'],
    ["import { h } from 'preact'", 'import of preact'],
  ])('flags %s', (source, finding) => {
    expect(browserBundleViolations(source)).toContain(finding)
  })

  it('passes clean browser code', () => {
    expect(
      browserBundleViolations(
        'import { useState } from "react";\nimport { jsx } from "react/jsx-runtime";\nfetch("/api/codex/session")',
      ),
    ).toEqual([])
  })
})

describe('dist/react/index.js', () => {
  it('exists (npm test builds it first)', () => {
    expect(existsSync(bundlePath)).toBe(true)
    expect(existsSync(typesPath)).toBe(true)
  })

  it('has no Node API, no import but React and no token field', () => {
    const source = readFileSync(bundlePath, 'utf8')
    expect(source.length).toBeGreaterThan(1000)
    expect(source).toContain('useCodexAuth')
    expect(browserBundleViolations(source)).toEqual([])
  })

  it('has types that need no Node types and name no token field', () => {
    const types = readFileSync(typesPath, 'utf8')
    expect(types).toContain('declare function useCodexAuth')
    expect(types).not.toMatch(/reference types=["']node["']|from ["']node:/)
    for (const field of TOKEN_FIELDS) expect(types).not.toContain(field)
  })
})
