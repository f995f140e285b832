/**
 * The demo's proxy step: starts the hardened proxy in front of the demo account (its token in a 0600
 * server-info file in the demo home), sends one streamed request through it the way any client would, and
 * prints how to call it from curl and the OpenAI SDK without the token ever landing on a command line.
 */
import { join } from 'node:path'
import { DEFAULT_ORIGINATOR } from '../../oauth/index.js'
import { startProxy, type RunningProxy } from '../../proxy/index.js'
import type { TokenManager } from '../../tokens/index.js'
import { CodexBackend, parseSse } from '../../upstream/index.js'
import { VERSION } from '../version.js'

/** What the demo needs to start the proxy. */
export interface DemoProxyOptions {
  readonly home: string
  readonly backendBase: string
  readonly tokens: TokenManager
  readonly accountId: string
  readonly say: (line?: string) => void
}

/** The running demo proxy; `close()` stops it and its upstream client. */
export interface DemoProxy {
  readonly proxy: RunningProxy
  close(): Promise<void>
}

/**
 * Starts the proxy, calls it once and prints how to use it.
 * @example
 * const demo = await startDemoProxy({ home, backendBase, tokens, accountId, say })
 */
export async function startDemoProxy(options: DemoProxyOptions): Promise<DemoProxy> {
  const backend = new CodexBackend({
    backendBase: options.backendBase,
    identity: { originator: DEFAULT_ORIGINATOR, version: VERSION },
  })
  const serverInfo = join(options.home, 'proxy-server-info.json')
  const proxy = await startProxy({
    upstream: { kind: 'chatgpt', tokens: options.tokens, accountId: options.accountId, backend },
    serverInfoPath: serverInfo,
  }).catch(async (error: unknown) => {
    await backend.close()
    throw error
  })
  const close = async (): Promise<void> => {
    await proxy.close()
    await backend.close()
  }
  const { say } = options
  say(`3. Proxy listening on ${proxy.url} (its token is in ${serverInfo}, mode 0600)`)
  const text = await askThroughProxy(proxy, 'hello from the demo')
  say(`   a streamed answer through it: "${text}"`)
  say()
  say('Call the proxy with curl (the token goes in through stdin, never on a command line):')
  say(
    `  printf 'header = "Authorization: Bearer %s"\\n' "$(sed -E 's/.*"auth_token":"([^"]+)".*/\\1/' ${serverInfo})" |`,
  )
  say(`    curl -sN -K - ${proxy.url}/v1/responses -H 'content-type: application/json' \\`)
  say(`    -d '{"model":"gpt-5.4","stream":true,"input":[{"role":"user","content":"hello"}]}'`)
  say('Or with the OpenAI SDK (Node):')
  say(`  const { auth_token } = JSON.parse(readFileSync('${serverInfo}', 'utf8'))`)
  say(`  const client = new OpenAI({ baseURL: '${proxy.url}/v1', apiKey: auth_token })`)
  return { proxy, close }
}

/** Sends one streamed Responses request through the proxy and joins the text deltas. */
async function askThroughProxy(proxy: RunningProxy, input: string): Promise<string> {
  const answer = await fetch(`${proxy.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-proxy-token': proxy.token.reveal() },
    body: JSON.stringify({
      model: 'gpt-5.4',
      stream: true,
      input: [{ role: 'user', content: input }],
    }),
  })
  if (answer.body === null || !answer.ok) return `(the proxy answered ${String(answer.status)})`
  let text = ''
  for await (const event of parseSse(answer.body)) {
    if (event.event !== 'response.output_text.delta') continue
    const data = JSON.parse(event.data) as { delta?: unknown }
    if (typeof data.delta === 'string') text += data.delta
  }
  return text
}
