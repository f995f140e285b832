/**
 * A spinner with an optional countdown on stderr while a command waits for a person (approving a device code,
 * finishing the browser sign-in). Drawn only on a terminal; scripts and `--json` get plain lines instead.
 */

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/** Stops the spinner and clears its line. */
export type StopProgress = () => void

/**
 * Shows `label` with a spinner (and the time left until `deadline`, unix ms) until stopped.
 * @example
 * const stop = startProgress(process.stderr, 'Waiting for approval', expiresAt)
 * try { await poll() } finally { stop() }
 */
export function startProgress(
  stream: NodeJS.WriteStream,
  label: string,
  deadline: number | null = null,
  now: () => number = Date.now,
): StopProgress {
  if (!stream.isTTY) return () => undefined
  let frame = 0
  const draw = (): void => {
    const left = deadline === null ? '' : `  ${formatLeft(deadline - now())} left`
    stream.write(`\r${FRAMES[frame % FRAMES.length] ?? ''} ${label}${left}\u001b[K`)
    frame += 1
  }
  draw()
  const timer = setInterval(draw, 100)
  timer.unref()
  return () => {
    clearInterval(timer)
    stream.write('\r\u001b[K')
  }
}

/** `m:ss` for a duration in milliseconds (never negative). */
export function formatLeft(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  return `${String(Math.floor(seconds / 60))}:${String(seconds % 60).padStart(2, '0')}`
}
