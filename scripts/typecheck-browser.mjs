#!/usr/bin/env node
// Type-checks src/react with the browser tsconfig (`types: []`, DOM lib, no Node globals), so the component can
// never lean on a Node API, then src/react together with its tests (test/react, which tsconfig.json excludes) with
// tsconfig.react-test.json. Until src/react has code there is nothing to check, and this says so.
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
  for (const project of ['tsconfig.react.json', 'tsconfig.react-test.json']) {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', project], {
      cwd: root,
      stdio: 'inherit',
    })
  }
}
