/**
 * One child process run under limits: spawned with exactly the environment given (nothing inherited) as the
 * leader of its own process group, its stdin written once and closed (the prompt goes there, never into argv
 * where `ps` shows it to every user), its stdout read as lines, its stderr kept for the log. It is stopped — the
 * whole tree killed with `SIGKILL` (kill-process-tree.ts) — when the caller's signal aborts, when the time limit
 * passes, or when stdout or stderr exceed their byte limits; `result` says which. When the leader exits on its
 * own, whatever it left running in its group is killed too: nothing started for a run outlives it. `result`
 * settles once the process has exited and its output has been read (or, if a process outside the group still
 * holds the pipes, shortly after the exit).
 */
import { spawn } from 'node:child_process'
import { StringDecoder } from 'node:string_decoder'
import { EventQueue } from './event-queue.js'
import { killProcessGroup, killProcessTree } from './kill-process-tree.js'

/** Why a process was stopped by {@link startExecProcess} rather than exiting on its own. */
export type ExecStopReason = 'aborted' | 'timeout' | 'stdout_limit' | 'stderr_limit'

/** How long to wait for the pipes to close after the exit before giving up on them. */
const PIPE_GRACE_MS = 2_000

/** Options of {@link startExecProcess}. */
export interface ExecProcessOptions {
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  /** The whole environment of the child. */
  readonly env: Readonly<Record<string, string>>
  /** Written to stdin, which is then closed. */
  readonly stdin: string
  readonly timeoutMs: number
  readonly maxStdoutBytes: number
  readonly maxStderrBytes: number
  /** Aborting it stops the process. */
  readonly signal: AbortSignal
}

/** How the process ended. */
export interface ExecProcessResult {
  /** The exit code, or null when a signal ended it (or it never started). */
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  /** Why it was stopped, or null when it exited on its own. */
  readonly stopped: ExecStopReason | null
  /** The spawn failure (`ENOENT`, `EACCES`…), when the process could not start. */
  readonly spawnError: Error | null
  /** Its stderr (at most `maxStderrBytes`), raw: redact before logging. */
  readonly stderr: string
}

/** A running process. */
export interface ExecProcess {
  /** The pid, or undefined when the spawn failed. */
  readonly pid: number | undefined
  /** The stdout lines (without the newline), ending when stdout ends or the process is stopped. */
  readonly lines: AsyncIterable<string>
  /** Settles once the process is gone (never rejects). */
  readonly result: Promise<ExecProcessResult>
  /** Stops the process (kills its tree) unless it is already gone. */
  stop(reason: ExecStopReason): void
}

/**
 * Starts the process.
 *
 * @example
 * const proc = startExecProcess({ command, args, cwd, env, stdin: prompt, timeoutMs, maxStdoutBytes,
 *   maxStderrBytes, signal })
 * for await (const line of proc.lines) handle(line)
 * const { exitCode, stopped, stderr } = await proc.result
 */
export function startExecProcess(options: ExecProcessOptions): ExecProcess {
  const queue = new EventQueue<string>()
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: { ...options.env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  })
  const pid = child.pid
  let stopped: ExecStopReason | null = null
  let exited = false
  let spawnError: Error | null = null
  let stdoutBytes = 0
  let stderrBytes = 0
  const stderrChunks: Buffer[] = []
  const decoder = new StringDecoder('utf8')
  let partial = ''

  const stop = (reason: ExecStopReason): void => {
    if (stopped !== null || exited) return
    stopped = reason
    queue.close()
    if (pid !== undefined) void killProcessTree(pid).catch(() => undefined)
  }
  const onAbort = (): void => {
    stop('aborted')
  }
  const timer = setTimeout(() => {
    stop('timeout')
  }, options.timeoutMs)

  child.stdout.on('data', (chunk: Buffer) => {
    if (stopped !== null) return
    stdoutBytes += chunk.length
    if (stdoutBytes > options.maxStdoutBytes) {
      stop('stdout_limit')
      return
    }
    const parts = (partial + decoder.write(chunk)).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) queue.push(line)
  })
  child.stdout.on('end', () => {
    const rest = partial + decoder.end()
    partial = ''
    if (rest !== '' && stopped === null) queue.push(rest)
    queue.close()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderrBytes >= options.maxStderrBytes) {
      stop('stderr_limit')
      return
    }
    const room = options.maxStderrBytes - stderrBytes
    stderrChunks.push(chunk.subarray(0, room))
    stderrBytes += Math.min(chunk.length, room)
    if (chunk.length > room) stop('stderr_limit')
  })
  // A child that exits without reading its stdin must not crash the broker with EPIPE.
  child.stdin.on('error', () => undefined)
  child.stdin.end(options.stdin)

  const result = new Promise<ExecProcessResult>((resolve) => {
    let exitCode: number | null = null
    let exitSignal: NodeJS.Signals | null = null
    let settled = false
    const settle = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal.removeEventListener('abort', onAbort)
      queue.close()
      child.stdout.destroy()
      child.stderr.destroy()
      resolve({
        exitCode,
        signal: exitSignal,
        stopped,
        spawnError,
        stderr: Buffer.concat(stderrChunks).toString('utf8'),
      })
    }
    child.once('error', (error) => {
      // Only a spawn failure gets here before 'exit' (kill errors are handled by killProcessTree).
      if (pid !== undefined) return
      spawnError = error
      settle()
    })
    child.once('exit', (code, name) => {
      exited = true
      exitCode = code
      exitSignal = name
      if (pid !== undefined) killProcessGroup(pid)
      const grace = setTimeout(settle, PIPE_GRACE_MS)
      child.once('close', () => {
        clearTimeout(grace)
        settle()
      })
    })
  })

  if (options.signal.aborted) onAbort()
  else options.signal.addEventListener('abort', onAbort, { once: true })

  return {
    pid,
    lines: { [Symbol.asyncIterator]: () => linesOf(queue) },
    result,
    stop,
  }
}

async function* linesOf(queue: EventQueue<string>): AsyncGenerator<string, void, undefined> {
  for (;;) {
    const line = await queue.next()
    if (line === null) return
    yield line
  }
}
