#!/usr/bin/env node
/**
 * The `codex-broker` command. Each subcommand lives in its own module under `commands/` and is imported only when
 * it runs, so `codex-broker --version` starts fast. This folder is the only place that reads `process.argv` and
 * `process.env`.
 */
import { Command, CommanderError } from 'commander'
import { EXIT_USAGE } from './exit-codes.js'
import { VERSION } from './version.js'

const program = new Command('codex-broker')
  .description(
    'Use your ChatGPT sign-in (Codex) or an OpenAI API key from your own tools without handing out the token.',
  )
  .version(VERSION, '-v, --version', 'print the version')
  .option('--home <dir>', 'where accounts live (env CODEX_BROKER_HOME; default ~/.codex-broker)')
  .option(
    '--issuer <url>',
    'sign-in issuer (env CODEX_BROKER_ISSUER; default https://auth.openai.com)',
  )
  .option('--backend-url <url>', 'ChatGPT backend (env CODEX_BROKER_BACKEND_URL)')
  .option('--api-url <url>', 'OpenAI API (env CODEX_BROKER_API_URL)')
  .option(
    '--encrypt',
    'encrypt credentials at rest (env CODEX_BROKER_ENCRYPT=1 or CODEX_BROKER_KEY)',
  )
  .showHelpAfterError('(run codex-broker --help for usage)')
  .exitOverride()

/** The global flags merged with the command's own. */
function flagsOf(command: Command): Record<string, unknown> {
  return command.optsWithGlobals()
}

program
  .command('login')
  .description('sign a ChatGPT account in (browser by default)')
  .option('--device', 'device-code sign-in, for machines without a browser')
  .option('--manual', 'print the address, then paste back where the browser ended')
  .option('--label <name>', 'a name for this account')
  .option('--no-open', 'print the address instead of opening a browser')
  .option('--with-api-key-exchange', 'also obtain an OpenAI API key for the account')
  .option(
    '--callback-port <port>',
    'loopback callback port to use (repeatable; the real issuer accepts only 1455 and 1457)',
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
  )
  .option('--json', 'one JSON event per line')
  .action(async (_options: unknown, command: Command) => {
    const { runLogin } = await import('./commands/login.js')
    await runLogin(flagsOf(command))
  })

program
  .command('logout')
  .description('forget an account on this machine (--everywhere also revokes it at OpenAI)')
  .argument('[account]', 'account id, email or label (optional with a single account)')
  .option('--everywhere', 'revoke the sign-in at OpenAI: signs the account out on every machine')
  .option('--json', 'one JSON event per line')
  .action(async (account: string | undefined, _options: unknown, command: Command) => {
    const { runLogout } = await import('./commands/logout.js')
    await runLogout(account, flagsOf(command))
  })

const accounts = program
  .command('accounts')
  .description('list the accounts (subcommands: import, export, remove, use)')
  .option('--json', 'one JSON object')
  .action(async (_options: unknown, command: Command) => {
    const { runAccountsList } = await import('./commands/accounts.js')
    await runAccountsList(flagsOf(command))
  })

accounts
  .command('import')
  .description("import the official Codex CLI's auth.json (a file or a folder of them)")
  .argument('[path]', 'default: $CODEX_HOME/auth.json or ~/.codex/auth.json')
  .option('--json', 'one JSON event per line')
  .action(async (path: string | undefined, _options: unknown, command: Command) => {
    const { runAccountsImport } = await import('./commands/accounts.js')
    await runAccountsImport(path, flagsOf(command))
  })

accounts
  .command('export')
  .description("write an account as the official Codex CLI's auth.json (mode 0600)")
  .argument('<account>', 'account id, email or label')
  .option('--out <file>', 'where to write it (default ./auth.json)')
  .option('--force', 'replace an existing file')
  .option('--json', 'one JSON event per line')
  .action(async (account: string, _options: unknown, command: Command) => {
    const { runAccountsExport } = await import('./commands/accounts.js')
    await runAccountsExport(account, flagsOf(command))
  })

accounts
  .command('remove')
  .description('forget an account on this machine')
  .argument('<account>', 'account id, email or label')
  .option('--json', 'one JSON event per line')
  .action(async (account: string, _options: unknown, command: Command) => {
    const { runAccountsRemove } = await import('./commands/accounts.js')
    await runAccountsRemove(account, flagsOf(command))
  })

accounts
  .command('use')
  .description('pin the proxy to one account (--clear to let the pool pick again)')
  .argument('[account]', 'account id, email or label')
  .option('--clear', 'unpin')
  .option('--json', 'one JSON event per line')
  .action(async (account: string | undefined, _options: unknown, command: Command) => {
    const { runAccountsUse } = await import('./commands/accounts-use.js')
    await runAccountsUse(account, flagsOf(command))
  })

program
  .command('status')
  .description('every account with its plan, state and usage windows')
  .option('--json', 'one JSON object')
  .action(async (_options: unknown, command: Command) => {
    const { runStatus } = await import('./commands/status.js')
    await runStatus(flagsOf(command))
  })

program
  .command('proxy')
  .description('run the local OpenAI-compatible proxy that only its token holder can use')
  .option('--port <n>', 'port to listen on (0 picks a free one)', '0')
  .option('--server-info <file>', 'write {"port","pid","auth_token"} there (mode 0600)')
  .option('--upstream <kind>', 'chatgpt (a signed-in account) or openai (an API key)', 'chatgpt')
  .option('--api-key-stdin', 'read the OpenAI API key from standard input (with --upstream openai)')
  .option('--account <account>', 'serve only this account (id, email or label)')
  .option(
    '--strategy <name>',
    'how to pick among the accounts: sticky (default), round-robin, least-used, pinned',
  )
  .option('--http-shutdown', 'serve POST /shutdown (token required)')
  .option('--max-body <bytes>', 'largest request body accepted (default 10 MiB)')
  .option('--dump-dir <dir>', 'write redacted request/response dumps there (0700 dir, 0600 files)')
  .option('--host <address>', 'address to bind (default 127.0.0.1; ::1 also counts as loopback)')
  .option(
    '--allow-non-loopback',
    'allow a --host other than loopback (the token is still required)',
  )
  .option('--json', 'one JSON event per line')
  .action(async (_options: unknown, command: Command) => {
    const { runProxy } = await import('./commands/proxy.js')
    await runProxy(flagsOf(command))
  })

program
  .command('serve')
  .description('run the WebSocket JSON-RPC app-server (authenticated at the upgrade)')
  .option(
    '--listen <url>',
    'ws://IP:PORT to listen on, e.g. ws://127.0.0.1:4500 (anything but loopback needs --ws-auth)',
  )
  .option(
    '--ws-auth <mode>',
    'capability-token or signed-bearer-token (default: none, loopback only)',
  )
  .option('--ws-token-file <file>', 'capability token file (mode 0600)')
  .option('--ws-token-sha256 <hex>', "the capability token's SHA-256, instead of the file")
  .option(
    '--ws-shared-secret-file <file>',
    'HS256 secret file for signed bearer tokens (0600, ≥ 32 bytes)',
  )
  .option('--ws-issuer <iss>', 'the iss signed bearer tokens must carry')
  .option('--ws-audience <aud>', 'an aud signed bearer tokens must name')
  .option('--ws-max-clock-skew-seconds <s>', 'tolerance for exp and nbf (default 30)')
  .option(
    '--strategy <name>',
    'how to pick among the accounts: sticky (default), round-robin, least-used, pinned',
  )
  .option(
    '--agent-runner <kind>',
    'serve agent/run with this runner: codex-cli (a Codex CLI agent turn) or direct (default: off)',
  )
  .option(
    '--codex-binary <path>',
    'the codex executable of --agent-runner codex-cli (default: PATH)',
  )
  .option('--json', 'one JSON event per line')
  .action(async (_options: unknown, command: Command) => {
    const { runServe } = await import('./commands/serve.js')
    await runServe(flagsOf(command))
  })

program
  .command('web')
  .description('serve the web handler at /api/codex and the React demo page at / (loopback only)')
  .option('--port <n>', 'port to listen on (0 picks a free one)', '0')
  .option('--host <address>', 'loopback address to bind (default 127.0.0.1)')
  .option(
    '--insecure-localhost-cookie',
    'development only: a session cookie without Secure and without the __Host- prefix',
  )
  .option(
    '--runner <kind>',
    'who answers a run: direct (default, one Responses request) or codex-cli (a Codex CLI agent turn)',
  )
  .option('--codex-binary <path>', 'the codex executable of --runner codex-cli (default: PATH)')
  .option('--json', 'print one JSON line {"event":"listening","url"} once it listens')
  .action(async (_options: unknown, command: Command) => {
    const { runWeb } = await import('./commands/web.js')
    await runWeb(flagsOf(command))
  })

program
  .command('sim')
  .description('run the local simulator of auth.openai.com, the ChatGPT backend and the OpenAI API')
  .option('--port <n>', 'port to listen on (0 picks a free one)', '0')
  .option('--auto-approve <email>', 'sign this account in without showing the sign-in page')
  .option(
    '--account <email:plan>',
    'an account that exists from the start, e.g. bob@example.com:pro (repeatable)',
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
  )
  .option('--json', 'print one JSON line with the URLs once ready')
  .action(async (options: Record<string, unknown>) => {
    const { runSim } = await import('./commands/sim.js')
    await runSim(options)
  })

program
  .command('demo')
  .description('start the whole system against the embedded simulator and show how to use it')
  .option('--port <n>', 'simulator port (0 picks a free one)', '0')
  .action(async (options: Record<string, unknown>) => {
    const { runDemo } = await import('./commands/demo.js')
    await runDemo(options)
  })

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every other commander error is a usage error.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE
  } else {
    const { CliOutput } = await import('./output.js')
    new CliOutput(false).fail(error)
  }
}
