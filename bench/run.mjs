#!/usr/bin/env node
// `npm run bench [-- name ...]`: runs the benchmark scripts of bench/ (all, or the named ones, e.g. `sim`), each
// as its own process, echoes their figure lines, and records each scenario's figures in bench/results/<name>.md
// with the date, the commit and the machine's load (BENCHMARKS.md: a ratio means little without the load it was
// measured under). bench/RESULTS.md is then rebuilt from every scenario's latest record.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg, cpus } from 'node:os'
import { join } from 'node:path'

const here = import.meta.dirname
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
const passThrough = process.argv.slice(2).filter((arg) => arg.startsWith('--'))
const available = readdirSync(here)
  .filter((file) => file.endsWith('.mjs') && file !== 'run.mjs')
  .map((file) => file.slice(0, -4))
const selected = wanted.length > 0 ? wanted : available
const unknown = selected.filter((name) => !available.includes(name))
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`)
  process.exit(2)
}
if (!existsSync(join(here, '..', 'dist', 'sim', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(2)
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
})()
const sections = []
let failed = false
for (const name of selected) {
  const load = loadavg()[0].toFixed(2)
  console.log(`\n== bench ${name} (load ${load})`)
  const result = spawnSync(process.execPath, [join(here, `${name}.mjs`), ...passThrough], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60 * 1000,
  })
  process.stdout.write(result.stdout ?? '')
  if (result.status !== 0) failed = true
  const figures = (result.stdout ?? '').split('\n').filter((line) => /^[A-Z][A-Z0-9]* /.test(line))
  sections.push({ name, load, status: result.status, figures })
}

const date = new Date().toISOString()
const resultsDir = join(here, 'results')
mkdirSync(resultsDir, { recursive: true })
for (const section of sections) {
  const record = [
    `## ${section.name}`,
    '',
    `${date}, commit ${commit}, ${cpus().length} cores, load average at start ${section.load}, exit status ${section.status}`,
    '',
    '```',
    ...(section.figures.length > 0 ? section.figures : ['(no figures)']),
    '```',
    '',
  ]
  writeFileSync(join(resultsDir, `${section.name}.md`), record.join('\n'))
}
const records = readdirSync(resultsDir)
  .filter((file) => file.endsWith('.md'))
  .sort()
  .map((file) => readFileSync(join(resultsDir, file), 'utf8'))
const lines = [
  '# Benchmark results',
  '',
  'Written by `npm run bench`: the latest run of each scenario, on a shared 2-core machine. Ratios are what count',
  '(see BENCHMARKS.md in the design notes); absolute figures move with the load written beside them.',
  '',
  ...records,
]
writeFileSync(join(here, 'RESULTS.md'), lines.join('\n'))
console.log(`\nwrote bench/results/ and bench/RESULTS.md (${sections.length} scenario file(s) run)`)
process.exit(failed ? 1 : 0)
