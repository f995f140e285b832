/**
 * `codex-broker web` as a process (the built CLI; npm test builds first): `--json` prints one listening line with
 * the URL, the page comes with its lockdown headers (CSP without inline script, COOP same-origin-allow-popups,
 * no framing), the script and the API answer under it, a foreign Host gets 403, a non-loopback `--host` keeps it
 * from starting, and SIGTERM stops it with exit 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { request } from 'node:http'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { useSimulator } from '../support/sim.js'

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const children: ChildProcessWithoutNullStreams[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

function runWeb(args: string[]): {
  child: ChildProcessWithoutNullStreams
  output: () => string
  exited: Promise<number | null>
} {
  const child = spawn(process.execPath, [cli, 'web', ...args], { stdio: 'pipe' })
  children.push(child)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stdin.end()
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code) => {
      done(code)
    }),
  )
  return { child, output: () => output, exited }
}

/** A GET with an exact Host header (fetch would not let the test choose it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume()
      resolvePromise(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('codex-broker web', () => {
  it('serves the page, its script and the API on loopback; refuses a foreign Host; stops on SIGTERM', async () => {
    const sim = await useSimulator()
    const web = runWeb(['--json', '--issuer', sim.issuer, '--backend-url', sim.backendBase])
    const deadline = Date.now() + 10_000
    let line: RegExpExecArray | null = null
    while (line === null && Date.now() < deadline && web.child.exitCode === null) {
      line = /^(\{"event":"listening".*\})$/m.exec(web.output())
      if (line === null) await new Promise((done) => setTimeout(done, 50))
    }
    expect(line, web.output()).not.toBeNull()
    const { url } = JSON.parse(line?.[1] ?? '{}') as { url: string }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<script type="module" src="/app.js"></script>')
    expect(html).toContain(`data-login-origins="${new URL(sim.issuer).origin}"`)
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin-allow-popups')
    const script = await fetch(`${url}/app.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toContain('javascript')
    expect((await script.text()).length).toBeGreaterThan(10_000)
    const session = await fetch(`${url}/api/codex/session`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-codex-broker': '1',
        'sec-fetch-site': 'same-origin',
      },
      body: '{}',
    })
    expect(session.status).toBe(200)
    expect(await session.json()).toEqual({ loggedIn: false, account: null })
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404)
    // Control: the right Host is served; a rebound name is not.
    const port = new URL(url).port
    expect(await getWithHost(`${url}/`, `127.0.0.1:${port}`)).toBe(200)
    expect(await getWithHost(`${url}/`, `rebind.test:${port}`)).toBe(403)
    expect(web.output()).not.toMatch(/eyJ[\w-]{10,}\./)

    web.child.kill('SIGTERM')
    expect(await web.exited).toBe(0)
  })

  it('refuses a --host that is not loopback', async () => {
    const web = runWeb(['--host', '0.0.0.0'])
    expect(await web.exited).not.toBe(0)
    expect(web.output()).toContain('not a loopback address')
  })
})
