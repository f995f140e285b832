/**
 * Option parsing shared by the commands: flags arrive as strings from commander and are turned into typed
 * values here, once, with errors that say which flag was wrong and what it takes.
 */
import { z } from 'zod'
import { BrokerError } from '../lib/index.js'

/** A TCP port, 0 meaning "any free port". */
export const portOption = z.coerce
  .number({ error: 'must be a number from 0 to 65535' })
  .int('must be a whole number')
  .min(0, 'must be 0 or more')
  .max(65_535, 'must be at most 65535')

/** Parses `options` with `schema`, or throws ERR_INVALID_CONFIG naming the offending flag. */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const flag = issue?.path[0]
  const name =
    typeof flag === 'string'
      ? `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
      : 'options'
  throw new BrokerError(
    'ERR_INVALID_CONFIG',
    `Invalid ${name}: ${issue?.message ?? 'invalid value'}`,
    {
      hint: 'Run codex-broker --help for the accepted values.',
    },
  )
}

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
