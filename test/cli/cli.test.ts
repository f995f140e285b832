/**
 * The built command line, run as a user would run it: `--version`, `sim --json` (serves and stops cleanly on a
 * signal), `demo`, and flag errors that say what is wrong. Runs `dist/` (npm test builds first).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import packageJson from '../../package.json' with { type: 'json' }

const cli = resolve(import.meta.dirname, '../../dist/cli/main.js')
const children = new Set<ChildProcessWithoutNullStreams>()

beforeAll(() => {
  if (!existsSync(cli))
    throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it)')
})

afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

function start(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [cli, ...args], { stdio: 'pipe' })
  children.add(child)
  return child
}

async function finish(child: ChildProcessWithoutNullStreams) {
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

async function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  const lines = createInterface({ input: child.stdout })
  const [line] = (await once(lines, 'line')) as [string]
  lines.close()
  return line
}

describe('codex-broker command line', () => {
  it('prints the package version', async () => {
    const result = await finish(start(['--version']))
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(packageJson.version)
  })

  it('sim --json prints one line of URLs that serve the simulator, and stops on SIGTERM', async () => {
    const child = start(['sim', '--json', '--auto-approve', 'ci@example.com'])
    const urls = JSON.parse(await firstLine(child)) as Record<string, string>
    expect(Object.keys(urls).sort()).toEqual(['api', 'backend', 'control', 'issuer'])
    expect(urls.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(urls.backend).toBe(`${urls.issuer}/backend-api`)
    expect(urls.api).toBe(`${urls.issuer}/v1`)
    expect(urls.control).toBe(`${urls.issuer}/__sim`)
    const accounts = (await (await fetch(`${urls.control}/accounts`)).json()) as { email: string }[]
    expect(accounts.map((account) => account.email)).toEqual(['ci@example.com'])
    const jwks = (await (await fetch(`${urls.issuer}/.well-known/jwks.json`)).json()) as {
      keys: unknown[]
    }
    expect(jwks.keys).toHaveLength(1)
    const exited = finish(child)
    child.kill('SIGTERM')
    expect((await exited).code).toBe(0)
  })

  it('demo starts the simulator, the proxy and the app-server, calls them, and stops on Ctrl-C', async () => {
    const child = start(['demo'])
    let output = ''
    let errors = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    await new Promise<void>((resolve) => {
      child.stdout.on('data', () => {
        if (output.includes('Press Ctrl-C to stop.')) resolve()
      })
    })
    const issuer = /Simulator ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
    expect(issuer).toBeDefined()
    const counters = await fetch(`${issuer ?? ''}/__sim/counters`)
    expect(counters.status).toBe(200)
    expect(output).toContain('a streamed answer through it: "Echo: hello from the demo"')
    const info = /its token is in (\S+), mode 0600/.exec(output)?.[1] ?? ''
    const { port, auth_token: token } = JSON.parse(await readFile(info, 'utf8')) as {
      port: number
      auth_token: string
    }
    expect(output).toContain(`Proxy listening on http://127.0.0.1:${String(port)}`)
    expect(output).not.toContain(token)
    const models = await fetch(`http://127.0.0.1:${String(port)}/v1/models`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(models.status).toBe(200)
    // The app-server part: a capability token in a 0600 file, a JSON-RPC session, a streamed answer.
    expect(output).toMatch(/App-server listening on ws:\/\/127\.0\.0\.1:\d+ /)
    expect(output).toContain('initialize: ok')
    expect(output).toContain('account/read: alice@example.com (plan plus)')
    expect(output).toContain('responses/create streamed: "Echo: hello from the app-server"')
    const tokenFile = /capability token in (\S+), mode 0600/.exec(output)?.[1] ?? ''
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    const wsToken = (await readFile(tokenFile, 'utf8')).trim()
    expect(wsToken.length).toBeGreaterThanOrEqual(32)
    expect(output).toContain(`Bearer $(cat ${tokenFile})`)
    expect(output).not.toContain(wsToken)
    expect(errors).not.toContain(wsToken)
    const exited = finish(child)
    child.kill('SIGINT')
    const result = await exited
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('demo stopped')
  })

  it('refuses a bad flag value with a message naming the flag', async () => {
    const result = await finish(start(['sim', '--port', 'abc']))
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('ERR_INVALID_CONFIG')
    expect(result.stderr).toContain('--port')
  })

  it('refuses an unknown plan in --account', async () => {
    const result = await finish(start(['sim', '--account', 'a@b.io:platinum']))
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('plan must be one of')
  })

  it('refuses an unknown command with the usage hint', async () => {
    const result = await finish(start(['frobnicate']))
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('codex-broker --help')
  })
})
