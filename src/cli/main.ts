#!/usr/bin/env node
/**
 * The `codex-broker` command. Each subcommand lives in its own module under `commands/` and is imported only when
 * it runs, so `codex-broker --version` starts fast. This folder is the only place that reads `process.argv` and
 * `process.env`.
 */
import { Command, CommanderError } from 'commander'
import { VERSION } from './version.js'

const program = new Command('codex-broker')
  .description(
    'Use your ChatGPT sign-in (Codex) or an OpenAI API key from your own tools without handing out the token.',
  )
  .version(VERSION, '-v, --version', 'print the version')
  .showHelpAfterError('(run codex-broker --help for usage)')
  .exitOverride()

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
    process.exitCode = error.exitCode
  } else {
    const { reportFatal } = await import('./report-fatal.js')
    reportFatal(error)
  }
}
