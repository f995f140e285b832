/**
 * `codex-broker web`: the web handler mounted at `/api/codex` and the React demo page at `/`, alone, on loopback,
 * against the configured endpoints (the real OpenAI services by default; `--issuer`/`--backend-url` point it at a
 * simulator). Each browser signs in with the device code in a popup; its tokens live in this process's memory and
 * are gone when it stops. The cookie secret is fresh per launch. `--json` prints one line `{"url": …}` once it
 * listens. `--runner codex-cli` answers each run with a full Codex CLI agent turn instead of one Responses request
 * (docs/runners.md; `--codex-binary` names the CLI, else it is looked for on `PATH`). Ctrl-C or SIGTERM stops it.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { BrokerError, Secret } from '../../lib/index.js'
import { DEFAULT_ORIGINATOR } from '../../oauth/index.js'
import { isLoopbackHostname } from '../../web/request-origin.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions, portOption, untilStopSignal } from '../options.js'
import { CliOutput } from '../output.js'
import { codexCliLocation, runnerKindOption } from '../runner-flags.js'
import { VERSION } from '../version.js'
import { startWebServer } from '../web-server.js'

const webOptions = z.object({
  port: portOption.optional(),
  host: z.string().optional(),
  json: z.boolean().optional(),
  insecureLocalhostCookie: z.boolean().optional(),
  runner: runnerKindOption.optional(),
  codexBinary: z.string().min(1).optional(),
})

/** Runs `codex-broker web`. */
export async function runWeb(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  let close: (() => Promise<void>) | null = null
  try {
    const options = parseOptions(webOptions, flags)
    const located = codexCliLocation('--runner', options.runner, options.codexBinary)
    const host = options.host ?? '127.0.0.1'
    const bare = host.replace(/^\[|\]$/g, '')
    if (!isLoopbackHostname(bare.includes(':') ? `[${bare}]` : bare)) {
      throw new BrokerError('ERR_INVALID_CONFIG', `--host ${host} is not a loopback address.`, {
        hint: 'codex-broker web serves loopback only (127.0.0.1 or ::1); put a reverse proxy in front for more.',
      })
    }
    const env = resolveEnvironment(flags)
    const server = await startWebServer({
      host: bare,
      port: options.port ?? 0,
      loginOrigins: [new URL(env.issuer).origin],
      handler: {
        cookieSecret: Secret.from(randomBytes(32).toString('base64url')),
        upstream: {
          kind: 'chatgpt',
          issuer: env.issuer,
          clientId: env.clientId,
          backendBase: env.backendBase,
          identity: { originator: DEFAULT_ORIGINATOR, version: VERSION },
        },
        insecureLocalhostCookie: options.insecureLocalhostCookie ?? false,
        runner: options.runner ?? 'direct',
        ...(options.runner === 'codex-cli' ? { codexCliRunner: located } : {}),
      },
    })
    close = server.close
    out.event('listening', { url: server.url })
    out.say(`codex-broker web on ${server.url} (open it in a browser; Ctrl-C stops it)`)
    await untilStopSignal()
  } catch (error) {
    out.fail(error)
  } finally {
    await close?.()
  }
}
