/**
 * `codex-broker status [--json]`: every account with its plan, state and quota windows, read live from the
 * backend's `/wham/usage` with a valid token (refreshed if due, recovered once on a 401), and its place in the
 * pool (pinned, cooling down until when). Each reading is also recorded in the pool's shared health, so a proxy
 * on this home stops picking an account that is at 100 %. One account failing does not hide the others: its row
 * says why.
 */
import { AccountPool, FilePoolStateStore, formatResetTime } from '../../accounts/index.js'
import { isBrokerError, toPublicError } from '../../lib/index.js'
import type { CredentialStore, StoredAccount } from '../../store/index.js'
import type { TokenManager } from '../../tokens/index.js'
import { DEFAULT_ORIGINATOR } from '../../oauth/index.js'
import { fetchUsage, type UsageSnapshot, type UsageWindow } from '../../upstream/index.js'
import { resolveEnvironment, type CliEnvironment } from '../environment.js'
import { CliOutput } from '../output.js'
import { poolJson, poolText, poolViews } from '../pool-view.js'
import { openServices } from '../services.js'
import { VERSION } from '../version.js'
import { accountView, table } from './accounts.js'

/** One row of `status`. */
export interface AccountStatusView extends ReturnType<typeof accountView> {
  usage: UsageSnapshot | null
  error: { code: string; message: string } | null
}

/** Runs `codex-broker status`. */
export async function runStatus(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const env = resolveEnvironment(flags)
    const { store, tokens } = await openServices(env)
    const accounts = await store.list()
    const rows = await Promise.all(accounts.map((account) => statusOf(account, tokens, env)))
    await recordReadings(env.home, store, rows)
    const pool = await poolViews(env.home, store)
    const now = Date.now()
    if (out.json) {
      out.event('status', {
        accounts: rows.map((row) => ({ ...row, pool: poolJson(pool.get(row.id)) })),
      })
      return
    }
    if (rows.length === 0) {
      out.say('No accounts yet. Sign in with: codex-broker login')
      return
    }
    out.say(
      table(
        ['ACCOUNT', 'PLAN', 'STATUS', '5H WINDOW', '7D WINDOW', 'POOL'],
        rows.map((row) => [
          row.label ?? row.email ?? row.id,
          row.usage?.planType ?? row.plan ?? '-',
          row.error ? `${row.status}: ${row.error.code}` : row.status,
          windowText(row.usage?.primary ?? null, now),
          windowText(row.usage?.secondary ?? null, now),
          poolText(pool.get(row.id), now),
        ]),
      ),
    )
    for (const row of rows) {
      if (row.error) out.note(`${row.email ?? row.id}: ${row.error.message}`)
    }
  } catch (error) {
    out.fail(error)
  }
}

/** Reads one account's usage; a failure becomes the row's `error`. */
export async function statusOf(
  account: StoredAccount,
  tokens: TokenManager,
  env: CliEnvironment,
): Promise<AccountStatusView> {
  const view = accountView(account)
  if (account.auth.kind !== 'chatgpt' || account.status !== 'active') {
    return { ...view, usage: null, error: null }
  }
  const identity = { originator: DEFAULT_ORIGINATOR, version: VERSION }
  try {
    const credential = await tokens.getAccessToken(account.id)
    try {
      return {
        ...view,
        usage: await fetchUsage({ ...credential, backendBase: env.backendBase, identity }),
        error: null,
      }
    } catch (error) {
      if (!isBrokerError(error, 'ERR_UPSTREAM_UNAUTHORIZED')) throw error
      const recovered = await tokens.recoverUnauthorized(account.id, credential.accessToken)
      return {
        ...view,
        usage: await fetchUsage({ ...recovered, backendBase: env.backendBase, identity }),
        error: null,
      }
    }
  } catch (error) {
    const { code, message } = toPublicError(error)
    return { ...view, usage: null, error: { code, message } }
  }
}

function windowText(window: UsageWindow | null, now: number): string {
  if (!window) return '-'
  return `${String(Math.round(window.usedPercent))}% (resets ${formatResetTime(window.resetsAt, now)})`
}

/** Records every live reading in the pool's shared health (a reading at 100 % starts a cooldown there). */
async function recordReadings(
  home: string,
  store: CredentialStore,
  rows: readonly AccountStatusView[],
): Promise<void> {
  const state = new FilePoolStateStore({ home })
  const pool = new AccountPool({ store, state })
  try {
    const observedAt = Date.now()
    for (const row of rows) {
      if (row.usage === null) continue
      const { primary, secondary, credits } = row.usage
      await pool.recordQuota(row.id, { primary, secondary, credits, observedAt })
    }
  } finally {
    await pool.close()
  }
}
