/**
 * `codex-broker accounts` and its subcommands: list, import from the official CLI's `auth.json`, export to it, and
 * remove. Listing shows who and what state, never a credential; export writes a 0600 file and never prints one.
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { BrokerError, writeSecretFile } from '../../lib/index.js'
import {
  CODEX_EXPORT_WARNING,
  CODEX_IMPORT_WARNING,
  exportCodexAuth,
  importCodexAuth,
  type StoredAccount,
} from '../../store/index.js'
import { describe, findAccount } from '../account-ref.js'
import { resolveEnvironment } from '../environment.js'
import { parseOptions } from '../options.js'
import { CliOutput } from '../output.js'
import { poolJson, poolText, poolViews } from '../pool-view.js'
import { openServices } from '../services.js'

/** The public view of an account: who, what plan, what state. No credential. */
export function accountView(account: StoredAccount) {
  return {
    id: account.id,
    kind: account.auth.kind,
    email: account.email,
    plan: account.plan,
    label: account.label,
    status: account.status,
    statusReason: account.statusReason,
    addedAt: new Date(account.addedAt).toISOString(),
    lastUsedAt: account.lastUsedAt === null ? null : new Date(account.lastUsedAt).toISOString(),
  }
}

/** `codex-broker accounts [--json]`: who, plan, state, and the pool's view (pinned, cooling). */
export async function runAccountsList(flags: Record<string, unknown>): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const env = resolveEnvironment(flags)
    const { store } = await openServices(env)
    const stored = await store.list()
    const pool = await poolViews(env.home, store)
    const now = Date.now()
    if (out.json) {
      out.event('accounts', {
        accounts: stored.map((account) => ({
          ...accountView(account),
          pool: poolJson(pool.get(account.id)),
        })),
      })
      return
    }
    if (stored.length === 0) {
      out.say('No accounts yet. Sign in with: codex-broker login')
      return
    }
    out.say(
      table(
        ['ID', 'EMAIL', 'PLAN', 'LABEL', 'STATUS', 'POOL'],
        stored.map((account) => {
          const a = accountView(account)
          return [
            a.id,
            a.email ?? '-',
            a.kind === 'apiKey' ? 'api key' : (a.plan ?? '-'),
            a.label ?? '-',
            a.statusReason ? `${a.status} (${a.statusReason})` : a.status,
            poolText(pool.get(account.id), now),
          ]
        }),
      ),
    )
  } catch (error) {
    out.fail(error)
  }
}

/** Where the official CLI keeps its credentials: `$CODEX_HOME/auth.json` or `~/.codex/auth.json`. */
export function defaultCodexAuthPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.CODEX_HOME ?? join(homedir(), '.codex'), 'auth.json')
}

/** `codex-broker accounts import [PATH]`. */
export async function runAccountsImport(
  path: string | undefined,
  flags: Record<string, unknown>,
): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const { store } = await openServices(resolveEnvironment(flags))
    const source = resolve(path ?? defaultCodexAuthPath())
    const imported = await importCodexAuth(source, { now: Date.now() })
    for (const warning of imported.warnings) out.note(`warning: ${warning}`)
    for (const account of imported.accounts) {
      const existing = await store.get(account.id)
      await store.put({
        ...account,
        label: existing?.label ?? account.label,
        addedAt: existing?.addedAt ?? account.addedAt,
      })
      out.event('imported', { account: accountView(account) })
      out.say(`Imported ${describe(account)}`)
    }
    out.note(CODEX_IMPORT_WARNING)
  } catch (error) {
    out.fail(error)
  }
}

const exportFlags = z.object({ out: z.string().min(1).optional(), force: z.boolean().optional() })

/** `codex-broker accounts export ACCOUNT [--out FILE] [--force]`. */
export async function runAccountsExport(
  reference: string,
  flags: Record<string, unknown>,
): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const options = parseOptions(exportFlags, flags)
    const env = resolveEnvironment(flags)
    const { store } = await openServices(env)
    const account = await findAccount(store, reference)
    const target = resolve(options.out ?? 'auth.json')
    if (existsSync(target) && options.force !== true) {
      throw new BrokerError('ERR_INVALID_CONFIG', `${target} exists; not overwriting it.`, {
        hint: 'Pass --force to replace it, or --out another file.',
      })
    }
    await writeSecretFile(
      target,
      exportCodexAuth(account, { issuer: env.issuer, clientId: env.clientId }),
    )
    out.event('exported', { account: accountView(account), path: target })
    out.say(`Wrote ${describe(account)} to ${target} (mode 0600).`)
    out.note(CODEX_EXPORT_WARNING)
  } catch (error) {
    out.fail(error)
  }
}

/** `codex-broker accounts remove ACCOUNT`. */
export async function runAccountsRemove(
  reference: string,
  flags: Record<string, unknown>,
): Promise<void> {
  const out = new CliOutput(flags.json === true)
  try {
    const { store } = await openServices(resolveEnvironment(flags))
    const account = await findAccount(store, reference)
    await store.remove(account.id)
    out.event('removed', { account: accountView(account) })
    out.say(`Removed ${describe(account)} from this machine (it stays signed in elsewhere).`)
  } catch (error) {
    out.fail(error)
  }
}

/** A plain aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd()
  return [render(header), ...rows.map(render)].join('\n')
}
