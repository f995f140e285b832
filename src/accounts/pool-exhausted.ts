/**
 * The error of a pool with nothing usable (`ERR_POOL_EXHAUSTED`, DESIGN.md "The account pool"): raised at once,
 * never a silent wait and never a raw upstream 429 body, with a message that says why and when — "2 accounts
 * rate-limited until 14:05 UTC, 1 needs sign-in (run: codex-broker login)" — and the two facts a caller needs for
 * its answer: when to try again, and whether it is a rate limit (HTTP 429 with `Retry-After`) or not (503). The
 * message names accounts by id at most; never an email or a token.
 */
import { BrokerError } from '../lib/errors.js'
import type { Candidate, PoolStrategy, Unusable } from './types.js'

/** What {@link PoolExhaustedError} carries besides its message. */
export interface PoolExhaustedDetails {
  /** The earliest time (unix ms) an account becomes usable again by waiting; null when no wait is known to help. */
  readonly retryAt: number | null
  /** True when every account is out for a usage limit or an exhausted quota. */
  readonly rateLimited: boolean
  /** What the user should do next. */
  readonly hint?: string
  readonly cause?: unknown
}

/**
 * No account of the pool can take the request.
 * @example
 * if (isBrokerError(error, 'ERR_POOL_EXHAUSTED') && error instanceof PoolExhaustedError) {
 *   const seconds = error.retryAfterSeconds(clock.now())
 *   if (seconds !== null) headers.set('retry-after', String(seconds))
 *   return Response.json({ error: toPublicError(error) }, { status: error.httpStatus, headers })
 * }
 */
export class PoolExhaustedError extends BrokerError {
  /** The earliest time (unix ms) something becomes usable again (a cooldown or a circuit ends), or null. */
  readonly retryAt: number | null
  /** True when waiting for a usage limit or quota reset is the answer (HTTP 429); otherwise 503. */
  readonly rateLimited: boolean

  constructor(message: string, details: PoolExhaustedDetails) {
    super('ERR_POOL_EXHAUSTED', message, {
      cause: details.cause,
      ...(details.hint === undefined ? {} : { hint: details.hint }),
    })
    this.retryAt = details.retryAt
    this.rateLimited = details.rateLimited
  }

  /** 429 when every account is rate-limited, else 503 (the code's status). */
  override get httpStatus(): number {
    return this.rateLimited ? 429 : super.httpStatus
  }

  /**
   * The `Retry-After` value in whole seconds (at least 1), or null when no time is known.
   * @example
   * error.retryAfterSeconds(now) // 125
   */
  retryAfterSeconds(now: number): number | null {
    return this.retryAt === null ? null : Math.max(1, Math.ceil((this.retryAt - now) / 1000))
  }
}

/** Options of {@link poolExhaustedError}. */
export interface PoolExhaustedOptions {
  readonly strategy: PoolStrategy
  /** The pinned account id (read only with the `pinned` strategy). */
  readonly pinned: string | null
  /** How times are written (default {@link formatResetTime} relative to `now`). */
  readonly formatTime?: (ms: number) => string
}

const LOGIN = 'codex-broker login'
const PIN_HELP = 'pinned with: codex-broker accounts use; unpin: codex-broker accounts use --clear'
const UNPIN = 'Unpin with: codex-broker accounts use --clear.'
const OR_UNPIN = 'Or unpin with: codex-broker accounts use --clear.'

/**
 * The error for candidates none of which is usable, with a message that groups and counts the reasons.
 * @example
 * poolExhaustedError(candidates, now, { strategy: 'sticky', pinned: null }).message
 * // 'No account can take this request: 2 accounts rate-limited until 14:05 UTC, 1 needs sign-in (run: codex-broker login).'
 */
export function poolExhaustedError(
  candidates: readonly Candidate[],
  now: number,
  options: PoolExhaustedOptions,
): PoolExhaustedError {
  const format = options.formatTime ?? ((ms: number) => formatResetTime(ms, now))
  if (candidates.length === 0) {
    return new PoolExhaustedError(`No account is signed in (run: ${LOGIN}).`, {
      retryAt: null,
      rateLimited: false,
      hint: `Sign in with: ${LOGIN}.`,
    })
  }
  return options.strategy === 'pinned'
    ? pinnedError(candidates, options.pinned, format)
    : poolError(candidates, format)
}

/**
 * A reset time for a message: `HH:MM UTC` on the same UTC day as `now`, else `YYYY-MM-DD HH:MM UTC`. Rounded up to
 * the minute, so a user who waits until the time shown is not turned away again.
 * @example
 * formatResetTime(Date.parse('2025-06-01T14:04:30Z'), Date.parse('2025-06-01T12:00:00Z')) // '14:05 UTC'
 */
export function formatResetTime(ms: number, now: number): string {
  const minute = 60_000
  const iso = new Date(Math.ceil(ms / minute) * minute).toISOString()
  const day = iso.slice(0, 10)
  const time = iso.slice(11, 16)
  return day === new Date(now).toISOString().slice(0, 10) ? `${time} UTC` : `${day} ${time} UTC`
}

type Reason = Unusable['kind']

/** The order reasons are listed in: what waiting fixes first, then what needs the user. */
const REASONS: readonly Reason[] = [
  'cooling',
  'circuit_open',
  'probing',
  'needs_login',
  'disabled',
  'wrong_kind',
]

function poolError(
  candidates: readonly Candidate[],
  format: (ms: number) => string,
): PoolExhaustedError {
  const unusable = candidates.flatMap((c) => (c.unusable === null ? [] : [c.unusable]))
  const parts: string[] = []
  for (const kind of REASONS) {
    const group = unusable.filter((u) => u.kind === kind)
    if (group.length === 0) continue
    const subject =
      parts.length === 0 ? `${group.length} ${plural(group.length, 'account')}` : `${group.length}`
    parts.push(`${subject} ${groupPhrase(kind, group, format)}`)
  }
  const retryAt = earliest(unusable)
  const steps = nextSteps(unusable, retryAt, format)
  // Accounts for the other upstream are not part of this pool: they do not make it "not rate-limited".
  const relevant = candidates.filter((c) => c.unusable?.kind !== 'wrong_kind')
  const rateLimited = relevant.length > 0 && relevant.every((c) => c.unusable?.kind === 'cooling')
  const message =
    parts.length === 0
      ? 'No account can take this request.'
      : `No account can take this request: ${parts.join(', ')}.`
  return new PoolExhaustedError(message, {
    retryAt,
    rateLimited,
    hint: (steps.length === 0 ? [`Add an account with: ${LOGIN}.`] : steps).join(' '),
  })
}

function pinnedError(
  candidates: readonly Candidate[],
  pinned: string | null,
  format: (ms: number) => string,
): PoolExhaustedError {
  if (pinned === null) {
    return new PoolExhaustedError(
      'No account is pinned (pin one with: codex-broker accounts use ID).',
      {
        retryAt: null,
        rateLimited: false,
        hint: 'Pin an account with: codex-broker accounts use ID, or choose another strategy.',
      },
    )
  }
  const candidate = candidates.find((c) => c.accountId === pinned)
  if (candidate === undefined) {
    return new PoolExhaustedError(
      `The pinned account ${pinned} is not among the accounts (${PIN_HELP}).`,
      { retryAt: null, rateLimited: false, hint: `Sign it in with: ${LOGIN}. ${OR_UNPIN}` },
    )
  }
  const unusable = candidate.unusable
  if (unusable === null) {
    return new PoolExhaustedError('No account can take this request.', {
      retryAt: null,
      rateLimited: false,
    })
  }
  const retryAt = earliest([unusable])
  const steps = nextSteps([unusable], retryAt, format)
  return new PoolExhaustedError(
    `The pinned account ${pinned} ${pinnedPhrase(unusable, format)} (${PIN_HELP}).`,
    {
      retryAt,
      rateLimited: unusable.kind === 'cooling',
      hint: [...steps, steps.length === 0 ? UNPIN : OR_UNPIN].join(' '),
    },
  )
}

function groupPhrase(
  kind: Reason,
  group: readonly Unusable[],
  format: (ms: number) => string,
): string {
  const n = group.length
  switch (kind) {
    case 'cooling':
      return `rate-limited ${untilPhrase(group, format)}`
    case 'circuit_open':
      return `paused after repeated upstream failures ${untilPhrase(group, format)}`
    case 'probing':
      return 'being re-tested after upstream failures'
    case 'needs_login':
      return `${n === 1 ? 'needs' : 'need'} sign-in (run: ${LOGIN})`
    case 'disabled':
      return `${n === 1 ? 'is' : 'are'} disabled`
    case 'wrong_kind':
      return `${n === 1 ? 'is' : 'are'} for another upstream (ChatGPT sign-in vs API key)`
  }
}

function pinnedPhrase(unusable: Unusable, format: (ms: number) => string): string {
  switch (unusable.kind) {
    case 'cooling':
      return `is rate-limited until ${format(unusable.until)}`
    case 'circuit_open':
      return `is paused after repeated upstream failures until ${format(unusable.until)}`
    case 'probing':
      return 'is being re-tested after upstream failures'
    case 'needs_login':
      return 'needs sign-in'
    case 'disabled':
      return 'is disabled'
    case 'wrong_kind':
      return 'is for another upstream (ChatGPT sign-in vs API key)'
  }
}

/** "until 14:05 UTC", or "(the earliest until 14:05 UTC)" when the group's times differ. */
function untilPhrase(group: readonly Unusable[], format: (ms: number) => string): string {
  const times = new Set(group.flatMap((u) => ('until' in u ? [format(u.until)] : [])))
  const first = earliest(group)
  if (first === null) return ''
  return times.size === 1 ? `until ${format(first)}` : `(the earliest until ${format(first)})`
}

/** The next steps a wait or a sign-in offers (empty when neither helps). */
function nextSteps(
  unusable: readonly Unusable[],
  retryAt: number | null,
  format: (ms: number) => string,
): string[] {
  const steps: string[] = []
  if (retryAt !== null) steps.push(`Try again after ${format(retryAt)}.`)
  else if (unusable.some((u) => u.kind === 'probing')) steps.push('Try again in a moment.')
  if (unusable.some((u) => u.kind === 'needs_login')) steps.push(`Sign in again with: ${LOGIN}.`)
  return steps
}

function earliest(unusable: readonly Unusable[]): number | null {
  let first: number | null = null
  for (const u of unusable) {
    if (u.kind === 'cooling' || u.kind === 'circuit_open')
      first = Math.min(first ?? u.until, u.until)
  }
  return first
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`
}
