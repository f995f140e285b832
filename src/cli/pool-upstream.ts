/**
 * The ChatGPT upstream the serving commands (`proxy`, `serve`) build the same way: a Codex backend client with
 * codex-broker's identity, and an account pool over the home's shared pool state (`quota.json`) with the strategy
 * the person chose — by default `pinned` when an account is pinned (`codex-broker accounts use`), else `sticky`.
 * The pool re-reads the store (about once a second), so accounts signed in after the start join it.
 */
import { z } from 'zod'
import {
  AccountPool,
  FilePoolStateStore,
  POOL_STRATEGIES,
  type PoolStrategy,
} from '../accounts/index.js'
import { BrokerError } from '../lib/index.js'
import { DEFAULT_ORIGINATOR } from '../oauth/index.js'
import type { CredentialStore } from '../store/index.js'
import { CodexBackend } from '../upstream/index.js'
import { VERSION } from './version.js'

/** The `--strategy` flag. */
export const strategyOption = z.enum(
  ['sticky', 'round-robin', 'least-used', 'pinned'] as const satisfies PoolStrategy[],
  { error: `must be one of ${POOL_STRATEGIES.join(', ')}` },
)

/** A Codex backend client for `backendBase`, identified as the Codex CLI's originator and this version. */
export function codexBackendFor(backendBase: string): CodexBackend {
  return new CodexBackend({
    backendBase,
    identity: { originator: DEFAULT_ORIGINATOR, version: VERSION },
  })
}

/** Options of {@link openAccountPool}. */
export interface OpenAccountPoolOptions {
  readonly home: string
  readonly store: CredentialStore
  /** The `--strategy` given, if any. */
  readonly strategy?: PoolStrategy | undefined
}

/**
 * Opens the pool over the home's pool state. Close it with `pool.close()` (which closes the state too).
 *
 * @throws {BrokerError} `ERR_INVALID_CONFIG` for `--strategy pinned` with no pinned account.
 *
 * @example
 * const { pool, strategy } = await openAccountPool({ home: env.home, store, strategy: options.strategy })
 */
export async function openAccountPool(
  options: OpenAccountPoolOptions,
): Promise<{ pool: AccountPool; strategy: PoolStrategy }> {
  const state = new FilePoolStateStore({ home: options.home })
  const pinned = await state.pinned().catch(async (error: unknown) => {
    await state.close()
    throw error
  })
  // A pinned account (codex-broker accounts use) is what the person asked for; otherwise sticky.
  const strategy = options.strategy ?? (pinned === null ? 'sticky' : 'pinned')
  if (strategy === 'pinned' && pinned === null) {
    await state.close()
    throw new BrokerError('ERR_INVALID_CONFIG', 'No account is pinned.', {
      hint: 'Pin one first: codex-broker accounts use ACCOUNT',
    })
  }
  return { pool: new AccountPool({ store: options.store, state, strategy }), strategy }
}
