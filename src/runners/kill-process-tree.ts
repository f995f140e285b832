/**
 * Ends a child process and everything it started. The child is spawned as the leader of its own process group
 * (`detached: true`), so `kill(-pid, SIGKILL)` reaches every process that stayed in the group — the Codex CLI's
 * Node wrapper, its native binary, the shells of its tools. A process that moved to a group or session of its own
 * (`setsid`, a daemonising tool) is not in the group, so on Linux the tree is first frozen: the descendants are
 * collected from `/proc/<pid>/stat` (parent pid links), the group and each of them get `SIGSTOP` (a stopped
 * process neither exits — so the links stay intact — nor forks), and the walk is repeated until it finds no new
 * process (a child forked just before its parent stopped). Then the group and every process found get
 * `SIGKILL`. `ESRCH` (already gone) and `EPERM` (a pid reused by someone else's process) are ignored. On Windows
 * only the child itself is killed.
 */
import { readdir, readFile } from 'node:fs/promises'
import { hasErrnoCode } from '../lib/index.js'

/** Options of {@link killProcessTree}. */
export interface KillProcessTreeOptions {
  /** Platform; default `process.platform`. */
  readonly platform?: NodeJS.Platform
  /** Where the process table is read on Linux; default `/proc`. */
  readonly procRoot?: string
}

/** How many times the tree is walked while freezing it, at most. */
const MAX_FREEZE_ROUNDS = 5

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if (!hasErrnoCode(error, 'ESRCH', 'EPERM')) throw error
  }
}

/** The parent pid of every process in the table (Linux `/proc`); empty where there is none. */
async function parentLinks(procRoot: string): Promise<Map<number, number[]>> {
  const children = new Map<number, number[]>()
  let names: string[]
  try {
    names = await readdir(procRoot)
  } catch {
    return children
  }
  await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        let stat: string
        try {
          stat = await readFile(`${procRoot}/${name}/stat`, 'utf8')
        } catch {
          return // gone meanwhile
        }
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        const parent = Number(fields[1])
        if (!Number.isInteger(parent)) return
        const list = children.get(parent) ?? []
        list.push(Number(name))
        children.set(parent, list)
      }),
  )
  return children
}

/**
 * Every descendant of `pid` in the current process table (Linux; empty elsewhere).
 *
 * @example
 * const pids = await descendantsOf(child.pid)
 */
export async function descendantsOf(
  pid: number,
  options: KillProcessTreeOptions = {},
): Promise<number[]> {
  if ((options.platform ?? process.platform) !== 'linux') return []
  const children = await parentLinks(options.procRoot ?? '/proc')
  const found: number[] = []
  const queue = [pid]
  const seen = new Set<number>(queue)
  while (queue.length > 0) {
    const next = queue.shift()
    if (next === undefined) break
    for (const child of children.get(next) ?? []) {
      if (seen.has(child)) continue
      seen.add(child)
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/**
 * Kills `pid` (a process-group leader), its group and all its descendants with `SIGKILL`.
 *
 * @example
 * const child = spawn(command, args, { detached: true })
 * signal.addEventListener('abort', () => void killProcessTree(child.pid))
 */
export async function killProcessTree(
  pid: number,
  options: KillProcessTreeOptions = {},
): Promise<void> {
  const platform = options.platform ?? process.platform
  if (platform === 'win32') {
    signal(pid, 'SIGKILL')
    return
  }
  const known = new Set<number>()
  for (let round = 0; round < MAX_FREEZE_ROUNDS; round += 1) {
    const fresh = (await descendantsOf(pid, options)).filter((found) => !known.has(found))
    signal(-pid, 'SIGSTOP')
    for (const found of fresh) {
      known.add(found)
      signal(found, 'SIGSTOP')
    }
    if (fresh.length === 0) break
  }
  signal(-pid, 'SIGKILL')
  signal(pid, 'SIGKILL')
  for (const found of known) signal(found, 'SIGKILL')
}

/**
 * Kills what is left of the process group of a leader that already exited (a tool's background process, say).
 * Only the group is signalled: the leader's own pid may already belong to another process.
 *
 * @example
 * child.once('exit', () => killProcessGroup(child.pid))
 */
export function killProcessGroup(
  pid: number,
  options: Pick<KillProcessTreeOptions, 'platform'> = {},
): void {
  if ((options.platform ?? process.platform) === 'win32') return
  signal(-pid, 'SIGKILL')
}
