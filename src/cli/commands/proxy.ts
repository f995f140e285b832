/**
 * `codex-broker proxy`: the hardened local proxy in the foreground until Ctrl-C, SIGTERM or `POST /shutdown`
 * (with `--http-shutdown`). ChatGPT mode (the default) serves one signed-in account through the Codex backend;
 * OpenAI mode serves an API key read from standard input (`--api-key-stdin`), never from argv or the
 * environment. The proxy token goes to the `--server-info` file (0600) or, without one, to stderr exactly once.
 */
import { createInterface } from 'node:readline'
import { z } from 'zod'
import { BrokerError, Secret } from '../../lib/index.js'
import { startProxy, type ProxyUpstream } from '../../proxy/index.js'
import { OpenAIApi } from '../../upstream/index.js'
import { describe, findAccount } from '../account-ref.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions, portOption, untilStopSignal } from '../options.js'
import { CliOutput } from '../output.js'
import { codexBackendFor, openAccountPool, strategyOption } from '../pool-upstream.js'
import { openServices } from '../services.js'

const proxyOptions = z.object({
  port: portOption,
  serverInfo: z.string().min(1).optional(),
  upstream: z.enum(['chatgpt', 'openai']),
  apiKeyStdin: z.boolean().optional(),
  account: z.string().min(1).optional(),
  strategy: strategyOption.optional(),
  httpShutdown: z.boolean().optional(),
  dumpDir: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  allowNonLoopback: z.boolean().optional(),
  maxBody: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .optional(),
  json: z.boolean().optional(),
})

/** Runs `codex-broker proxy`. */
export async function runProxy(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  const closers: (() => Promise<void>)[] = []
  try {
    const options = parseOptions(proxyOptions, flags)
    const env = resolveEnvironment(flags)
    let upstream: ProxyUpstream
    if (options.upstream === 'openai') {
      if (options.apiKeyStdin !== true) {
        throw new BrokerError('ERR_INVALID_CONFIG', '--upstream openai needs --api-key-stdin.', {
          hint: 'Pipe the API key in: codex-broker proxy --upstream openai --api-key-stdin < key.txt',
        })
      }
      const apiKey = await readApiKey()
      const api = new OpenAIApi({ apiBase: env.apiBase })
      closers.push(() => api.close())
      upstream = { kind: 'openai', api, apiKey }
    } else {
      if (options.apiKeyStdin === true) {
        throw new BrokerError('ERR_INVALID_CONFIG', '--api-key-stdin needs --upstream openai.')
      }
      if (options.account !== undefined && options.strategy !== undefined) {
        throw new BrokerError('ERR_INVALID_CONFIG', 'Use --account or --strategy, not both.', {
          hint: '--account serves one account; --strategy picks among all of them.',
        })
      }
      const { store, tokens } = await openServices(env)
      const backend = codexBackendFor(env.backendBase)
      closers.push(() => backend.close())
      if (options.account !== undefined) {
        const account = await findAccount(store, options.account)
        upstream = { kind: 'chatgpt', tokens, accountId: account.id, backend }
        out.note(`serving ${describe(account)} only`)
      } else {
        const signedIn = (await store.list()).filter((account) => account.auth.kind === 'chatgpt')
        if (signedIn.length === 0) {
          throw new BrokerError('ERR_NOT_FOUND', 'No ChatGPT account is signed in.', {
            hint: 'Sign in first: codex-broker login (or serve an API key: --upstream openai)',
          })
        }
        const { pool, strategy } = await openAccountPool({
          home: env.home,
          store,
          strategy: options.strategy,
        })
        closers.push(() => pool.close())
        upstream = { kind: 'pool', pool, tokens, backend }
        const count = signedIn.length
        out.note(`serving ${String(count)} account${count === 1 ? '' : 's'} (strategy ${strategy})`)
      }
    }
    const proxy = await startProxy({
      upstream,
      port: options.port,
      httpShutdown: options.httpShutdown === true,
      allowNonLoopback: options.allowNonLoopback === true,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.serverInfo === undefined ? {} : { serverInfoPath: options.serverInfo }),
      ...(options.dumpDir === undefined ? {} : { dumpDir: options.dumpDir }),
      ...(options.maxBody === undefined ? {} : { maxBodyBytes: options.maxBody }),
    })
    closers.unshift(() => proxy.close())
    if (!LOOPBACK.has(options.host ?? '127.0.0.1')) {
      process.stderr.write(nonLoopbackBanner(proxy.url))
    }
    out.event('listening', { url: proxy.url, port: proxy.port })
    out.say(`listening on ${proxy.url}`)
    if (options.dumpDir !== undefined) out.say(`dumping redacted exchanges to ${options.dumpDir}`)
    if (options.serverInfo === undefined) {
      process.stderr.write(
        `Proxy token (shown once; send it as "Authorization: Bearer <token>" or "X-Proxy-Token"): ${proxy.token.reveal()}\n`,
      )
    }
    await Promise.race([untilStopSignal(), proxy.closed])
  } catch (error) {
    out.fail(error)
  } finally {
    for (const close of closers) await close()
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1'])

/** The warning printed when the proxy listens beyond this machine. */
function nonLoopbackBanner(url: string): string {
  const rule = '!'.repeat(78)
  return [
    rule,
    `!! The proxy listens on ${url}, which is NOT loopback: other machines can reach it.`,
    '!! Every request still needs the token, but the traffic is plain HTTP: anyone on the',
    '!! network path can read prompts, answers and the token. Prefer loopback with an SSH tunnel.',
    rule,
    '',
  ].join('\n')
}

/** Reads one line from standard input as the API key. */
async function readApiKey(): Promise<Secret> {
  const lines = createInterface({ input: process.stdin })
  try {
    for await (const line of lines) {
      const key = line.trim()
      if (key === '') break
      return Secret.from(key)
    }
  } finally {
    lines.close()
  }
  throw new BrokerError('ERR_INVALID_CONFIG', 'No API key on standard input.', {
    hint: 'Pipe the API key in: codex-broker proxy --upstream openai --api-key-stdin < key.txt',
  })
}
