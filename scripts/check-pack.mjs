#!/usr/bin/env node
// The packed-artifact check: ship what we test. Packs the package, installs the tarball into an empty temporary
// project, imports every public subpath from there, runs the installed `codex-broker --version`, and lints the
// package metadata with `publint --strict`. Run after `npm run build`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const work = mkdtempSync(join(tmpdir(), 'codex-broker-pack-'))
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

try {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root))
  const tarball = join(work, packed[0].filename)
  const files = packed[0].files.map((file) => file.path)
  const unexpected = files.filter(
    (file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file) || file.endsWith('.map'),
  )
  if (unexpected.length > 0)
    throw new Error(`unexpected files in the tarball: ${unexpected.join(', ')}`)

  const app = join(work, 'app')
  run('mkdir', ['-p', app], work)
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'pack-check', private: true, type: 'module' }),
  )
  // Peer dependencies (react, for `codex-broker/react`) are what the application brings: install them from this
  // checkout's node_modules (a local folder, so no registry), next to the tarball, so every subpath can be imported.
  const peers = Object.keys(pkg.peerDependencies ?? {}).map((name) =>
    join(root, 'node_modules', name),
  )
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...peers], app)

  const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json')
  const specifiers = subpaths.map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`))
  const script = specifiers
    .map(
      (s) =>
        `{ const m = await import(${JSON.stringify(s)}); if (Object.keys(m).length === 0) throw new Error('empty: ${s}') }`,
    )
    .join('\n')
  run('node', ['--input-type=module', '-e', script], app)

  const version = run(join(app, 'node_modules', '.bin', 'codex-broker'), ['--version'], app).trim()
  if (version !== pkg.version)
    throw new Error(`installed codex-broker --version printed ${version}, expected ${pkg.version}`)

  run(
    join(root, 'node_modules', '.bin', 'publint'),
    ['--strict', join(app, 'node_modules', pkg.name)],
    root,
  )
  process.stdout.write(
    `pack check: ${files.length} files, ${specifiers.length} subpaths imported (${specifiers.join(', ')}), --version ${version}, publint --strict clean\n`,
  )
} finally {
  rmSync(work, { recursive: true, force: true })
}
