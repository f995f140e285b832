/**
 * The global flags every command shares — `--home`, `--issuer`, `--backend-url`, `--api-url` — resolved once
 * against their environment variables and defaults. This is one of the two places (with main.ts) that read
 * `process.env`; plain `http:` endpoints are accepted only on loopback hosts (the simulator, a local proxy).
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { BrokerError } from '../lib/index.js'
import { assertSafeEndpoint, CODEX_CLIENT_ID, DEFAULT_ISSUER } from '../oauth/index.js'
import { DEFAULT_API_URL, DEFAULT_BACKEND_URL } from '../upstream/index.js'

/** Where everything lives and what it talks to. */
export interface CliEnvironment {
  home: string
  issuer: string
  clientId: string
  backendBase: string
  apiBase: string
  /** `CODEX_BROKER_KEY`, for encrypted stores. */
  encryptionKey: string | undefined
  /** `--encrypt` (or `CODEX_BROKER_ENCRYPT=1`): encrypt credentials at rest. */
  encrypt: boolean
}

const globalFlags = z.object({
  home: z.string().min(1).optional(),
  issuer: z.string().optional(),
  backendUrl: z.string().optional(),
  apiUrl: z.string().optional(),
  encrypt: z.boolean().optional(),
})

/** Resolves the global flags against the environment. */
export function resolveEnvironment(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): CliEnvironment {
  const parsed = globalFlags.safeParse(flags)
  if (!parsed.success) {
    throw new BrokerError('ERR_INVALID_CONFIG', 'Invalid global flags.', {
      hint: 'Run codex-broker --help for usage.',
    })
  }
  const given = parsed.data
  const home = given.home ?? env.CODEX_BROKER_HOME ?? join(homedir(), '.codex-broker')
  return {
    home: resolve(home),
    issuer: endpoint(given.issuer ?? env.CODEX_BROKER_ISSUER ?? DEFAULT_ISSUER, '--issuer'),
    clientId: CODEX_CLIENT_ID,
    backendBase: endpoint(
      given.backendUrl ?? env.CODEX_BROKER_BACKEND_URL ?? DEFAULT_BACKEND_URL,
      '--backend-url',
    ),
    apiBase: endpoint(given.apiUrl ?? env.CODEX_BROKER_API_URL ?? DEFAULT_API_URL, '--api-url'),
    encryptionKey: env.CODEX_BROKER_KEY === '' ? undefined : env.CODEX_BROKER_KEY,
    encrypt: given.encrypt === true || env.CODEX_BROKER_ENCRYPT === '1',
  }
}

/** A base URL without a trailing slash, checked by the endpoint rule. */
function endpoint(value: string, flag: string): string {
  return assertSafeEndpoint(value, flag).href.replace(/\/+$/, '')
}
