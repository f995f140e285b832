#!/usr/bin/env node
// Type-checks src/react with the browser tsconfig (`types: []`, DOM lib, no Node globals), so the component can
// never lean on a Node API. Until src/react has code there is nothing to check, and this says so.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const dir = join(root, 'src', 'react')
const sources = existsSync(dir)
  ? readdirSync(dir, { recursive: true }).filter((f) => /\.tsx?$/.test(String(f)))
  : []
if (sources.length === 0) {
  console.log('typecheck (browser): src/react has no sources yet; nothing to check')
} else {
  execFileSync(
    join(root, 'node_modules', '.bin', 'tsc'),
    ['--noEmit', '-p', 'tsconfig.react.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  )
}
