#!/usr/bin/env node
// P8 of BENCHMARKS.md: the web handler answering `POST /api/codex/session` with a valid session cookie (cookie
// MAC check, session store read, CSRF and Host gates, JSON answer) through its node adapter, 32 keep-alive
// connections, against a bare node:http hello world measured in the same run. Each round measures both, one after
// the other, each server in its own process; the ratio of requests/s is the figure (target ≥ 0.5).
import { fork } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fmt, load, max, median, min, target } from './lib/stats.mjs'
import { WRK, runWrk, wrkScript } from './lib/wrk.mjs'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } },
  strict: false,
})
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const connections = 32
if (!existsSync(WRK)) {
  console.error(`P8 needs wrk at ${WRK} (apt-get install wrk)`)
  process.exit(2)
}

async function start(kind) {
  const child = fork(join(import.meta.dirname, 'lib', 'web-target.mjs'), [kind], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const [info] = await new Promise((resolve, reject) => {
    child.once('message', (message) => resolve([message]))
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)))
  })
  return { ...info, stop: () => child.kill('SIGTERM') }
}

const dir = mkdtempSync(join(tmpdir(), 'codex-broker-bench-web-'))
const loadStart = load()
const ratios = []
const rps = { handler: [], hello: [] }
let errors = 0
try {
  const handler = await start('handler')
  const hello = await start('hello')
  const headers = {
    'content-type': 'application/json',
    'sec-fetch-site': 'same-origin',
    'x-codex-broker': '1',
    cookie: handler.cookie,
  }
  const handlerScript = wrkScript(dir, 'handler', headers, '{}')
  const helloScript = wrkScript(dir, 'hello', { 'content-type': 'application/json' }, '{}')
  // Warm both up (JIT, keep-alive pools) before measuring.
  await runWrk({
    url: `http://127.0.0.1:${handler.port}/api/codex/session`,
    script: handlerScript,
    connections,
    seconds: 2,
  })
  await runWrk({
    url: `http://127.0.0.1:${hello.port}/`,
    script: helloScript,
    connections,
    seconds: 2,
  })
  for (let round = 0; round < rounds; round += 1) {
    const web = await runWrk({
      url: `http://127.0.0.1:${handler.port}/api/codex/session`,
      script: handlerScript,
      connections,
      seconds,
    })
    const bare = await runWrk({
      url: `http://127.0.0.1:${hello.port}/`,
      script: helloScript,
      connections,
      seconds,
    })
    errors += web.errors + bare.errors
    rps.handler.push(web.rps)
    rps.hello.push(bare.rps)
    ratios.push(web.rps / bare.rps)
  }
  handler.stop()
  hello.stop()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
console.log(
  `P8 web/hello=${fmt(median(ratios))} (${rounds} rounds, min ${fmt(min(ratios))} max ${fmt(max(ratios))}; ` +
    `c=${connections}; load ${loadStart}→${load()}${errors > 0 ? `; ${errors} errors` : ''}) ` +
    target([median(ratios) >= 0.5 && errors === 0]),
)
console.log(
  `P8 rps handler=${Math.round(median(rps.handler))} hello=${Math.round(median(rps.hello))} (medians)`,
)
