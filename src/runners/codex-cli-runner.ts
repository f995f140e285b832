/**
 * `CodexCliRunner`: a full agent turn (tools, files, reasoning) by the official Codex CLI, `codex exec --json`,
 * lent exactly one user's credentials for exactly one run and nothing else. Per run:
 *
 * 1. **One run per account** (in this process): a second run for an account whose run is still going ends at
 *    once with `run_in_progress`; other accounts' runs proceed.
 * 2. **Refresh first.** The runner's own `TokenManager` (same store, same issuer, same lock) refreshes the account
 *    unless its access token outlives the run's time limit plus the CLI's own 5-minute refresh window, so the CLI
 *    starts with a token it has no reason to refresh and the broker has no reason to refresh while it runs.
 * 3. **Lend.** A fresh private scratch space (temporary-codex-home.ts): `config.toml` points the CLI at the
 *    configured backend; under the account lock the store is read again and the account's tokens are written as
 *    the CLI's `auth.json` (PROTOCOL.md §6, 0600).
 * 4. **Run.** `codex exec --json --skip-git-repo-check --sandbox <mode> [--model M] -` with the prompt on stdin,
 *    a clean environment (child-environment.ts: `PATH`, `HOME`, `CODEX_HOME`, `LANG`, and the refresh URL of a
 *    non-default issuer — nothing inherited), the caller's working directory or an empty one, a time limit and
 *    stdout/stderr byte limits (exec-process.ts). Its JSONL becomes run events (codex-exec-events.ts); answer
 *    text is scrubbed of the lent tokens and of those in auth.json at that moment (the agent's tools can read
 *    its home, and the CLI may have rotated them). The caller's abort, the time
 *    limit and the output limits kill the whole process tree.
 * 5. **Read back, then delete.** Whatever happened, under the account lock a refresh token the CLI rotated during
 *    the run is saved to the store (read-back-tokens.ts), then the scratch space is deleted. Only then does the
 *    terminal event go out, so a client that saw `done` knows the credentials are home and the files gone.
 *
 * The account lock is not held during the run: the store's locks are for seconds (a file lock older than a minute
 * is broken as stale), and a run lasts minutes. Refreshing first is what keeps the CLI and the broker from
 * refreshing the same chain at once; the read-back is what keeps a rotation the CLI made anyway. stderr is
 * redacted and goes to the logger only; no event carries a token, a file's content or the CLI's own error text.
 */
import { randomUUID } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { delimiter, dirname, isAbsolute } from 'node:path'
import {
  BrokerError,
  type Clock,
  createLogger,
  type Logger,
  type Secret,
  systemClock,
} from '../lib/index.js'
import { type IssuerConfig, parseAccessTokenClaims } from '../oauth/index.js'
import { type CredentialStore, writeCodexAuthFile } from '../store/index.js'
import { type RefreshFunction, TokenManager, type TokenManagerOptions } from '../tokens/index.js'
import { codexChildEnvironment } from './child-environment.js'
import { CodexExecTranslator } from './codex-exec-events.js'
import { EventQueue } from './event-queue.js'
import { type ExecProcess, type ExecProcessResult, startExecProcess } from './exec-process.js'
import { type CodexBinary, findCodexBinary } from './find-codex-binary.js'
import { readBackTokens, tokensInAuthFile } from './read-back-tokens.js'
import { redactStderr, scrubKnownSecrets } from './redact-cli-output.js'
import { runError, runErrorFrom } from './run-error.js'
import {
  isTerminalRunEvent,
  type RunEvent,
  type RunInput,
  type Runner,
  type TerminalRunEvent,
} from './runner.js'
import { createTemporaryCodexHome, type TemporaryCodexHome } from './temporary-codex-home.js'

/** The default time limit of a run (10 minutes). */
export const DEFAULT_RUN_TIMEOUT_MS = 10 * 60 * 1000

/** The default stdout limit of a run (16 MiB). */
export const DEFAULT_MAX_STDOUT_BYTES = 16 * 1024 * 1024

/** The default stderr limit of a run (64 KiB). */
export const DEFAULT_MAX_STDERR_BYTES = 64 * 1024

/** The largest prompt a run accepts (1 MiB of UTF-8). */
export const MAX_PROMPT_BYTES = 1024 * 1024

/** The official CLI refreshes a token whose `exp` is closer than this (checked against `@openai/codex` 0.169.0). */
export const CLI_REFRESH_WINDOW_MS = 5 * 60 * 1000

/** Extra lifetime the lent token must have beyond the run's time limit and the CLI's window. */
const LIFETIME_MARGIN_MS = 60 * 1000

/** The sandbox modes a run may ask for (`danger-full-access` is deliberately not one of them). */
export type CodexSandboxMode = 'read-only' | 'workspace-write'

const SANDBOX_MODES: ReadonlySet<string> = new Set<CodexSandboxMode>([
  'read-only',
  'workspace-write',
])

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** Options of {@link CodexCliRunner}. */
export interface CodexCliRunnerOptions {
  /** Where the accounts live; its `withAccountLock` guards the lending and the read-back. */
  readonly store: CredentialStore
  /** The issuer the accounts' tokens come from (refresh, `oauth_provenance`, the CLI's refresh URL). */
  readonly issuer: IssuerConfig
  /** The Codex backend the CLI must use, e.g. `https://chatgpt.com/backend-api` (DEFAULT_BACKEND_URL). */
  readonly backendBase: string
  /** The `codex` executable (or its `codex.js`); found on `searchPath` or in `@openai/codex` otherwise. */
  readonly binary?: string
  /**
   * The child's `PATH`, also searched for `codex`. Default: the directory of the running Node, then
   * `/usr/local/bin:/usr/bin:/bin` (the broker's own `PATH` is never read; pass it if you want it).
   */
  readonly searchPath?: string
  /** Where `@openai/codex` is resolved from (default: this package); null: do not look for the package. */
  readonly packageFrom?: string | null
  /** The child's `LANG` (default `C.UTF-8`). */
  readonly lang?: string
  /** The model of a run that names none (default: the CLI's own default). */
  readonly defaultModel?: string
  /** The CLI's sandbox for the agent's commands (default `read-only`). */
  readonly sandbox?: CodexSandboxMode
  /** The time limit of a run in milliseconds (default {@link DEFAULT_RUN_TIMEOUT_MS}). */
  readonly timeoutMs?: number
  /** The stdout limit in bytes (default {@link DEFAULT_MAX_STDOUT_BYTES}); more ends the run. */
  readonly maxStdoutBytes?: number
  /** The stderr limit in bytes (default {@link DEFAULT_MAX_STDERR_BYTES}); more ends the run. */
  readonly maxStderrBytes?: number
  /** Where run directories are made (default `os.tmpdir()`). */
  readonly tempDir?: string
  /** The refresh request of the runner's token manager (default: `refreshTokens` against `issuer`). */
  readonly refresh?: RefreshFunction
  /** The clock (default the system clock). */
  readonly clock?: Clock
  /** Where `runner.*` events go (default: nowhere). stderr is redacted before it gets here. */
  readonly logger?: Logger
  /** The account lock's timeout in milliseconds (default: the store's). */
  readonly lockTimeoutMs?: number
}

/** What a run lent: the refresh token written into auth.json, and whose ChatGPT account it is. */
interface LentTokens {
  readonly refreshToken: Secret
  readonly chatgptAccountId: string
}

/** A run's input after checking. */
interface CheckedInput {
  readonly model: string | null
  readonly cwd: string | null
}

function invalid(message: string): BrokerError {
  return new BrokerError('ERR_INVALID_REQUEST', message)
}

/**
 * Runs agent turns with the official Codex CLI, lending one account's credentials per run.
 *
 * @example
 * const runner = new CodexCliRunner({ store, issuer: { issuer: DEFAULT_ISSUER, clientId: CODEX_CLIENT_ID },
 *   backendBase: DEFAULT_BACKEND_URL, searchPath: pathFromYourConfig })
 * for await (const event of runner.run({ accountId, prompt: 'List the files here', cwd, signal })) {
 *   if (event.type === 'text') process.stdout.write(event.delta)
 * }
 * @see PROTOCOL.md §6
 */
export class CodexCliRunner implements Runner {
  readonly kind = 'codex-cli'
  readonly #store: CredentialStore
  readonly #issuer: IssuerConfig
  readonly #backendBase: string
  readonly #tokens: TokenManager
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #searchPath: string
  readonly #lang: string
  readonly #defaultModel: string | null
  readonly #sandbox: CodexSandboxMode
  readonly #timeoutMs: number
  readonly #maxStdoutBytes: number
  readonly #maxStderrBytes: number
  readonly #tempDir: string | undefined
  readonly #lockTimeoutMs: number | undefined
  readonly #findBinary: () => Promise<CodexBinary>
  readonly #active = new Set<string>()
  #binary: Promise<CodexBinary> | null = null

  constructor(options: CodexCliRunnerOptions) {
    this.#store = options.store
    this.#issuer = options.issuer
    this.#backendBase = options.backendBase
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? createLogger({ level: 'silent' })
    this.#searchPath =
      options.searchPath ??
      [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(delimiter)
    this.#lang = options.lang ?? 'C.UTF-8'
    this.#defaultModel = options.defaultModel ?? null
    this.#sandbox = options.sandbox ?? 'read-only'
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS
    this.#maxStdoutBytes = options.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES
    this.#maxStderrBytes = options.maxStderrBytes ?? DEFAULT_MAX_STDERR_BYTES
    this.#tempDir = options.tempDir
    this.#lockTimeoutMs = options.lockTimeoutMs
    if (this.#defaultModel !== null && !MODEL_NAME.test(this.#defaultModel)) {
      throw new BrokerError('ERR_INVALID_CONFIG', 'The default model is not a model name.')
    }
    for (const [name, value] of [
      ['timeoutMs', this.#timeoutMs],
      ['maxStdoutBytes', this.#maxStdoutBytes],
      ['maxStderrBytes', this.#maxStderrBytes],
    ] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new BrokerError('ERR_INVALID_CONFIG', `${name} must be a positive whole number.`)
      }
    }
    if (!SANDBOX_MODES.has(this.#sandbox)) {
      throw new BrokerError('ERR_INVALID_CONFIG', 'sandbox must be read-only or workspace-write.')
    }
    const tokenOptions: TokenManagerOptions = {
      store: options.store,
      issuer: options.issuer,
      clock: this.#clock,
      logger: this.#logger,
      proactiveWindowMs: CLI_REFRESH_WINDOW_MS + this.#timeoutMs + LIFETIME_MARGIN_MS,
      ...(options.refresh === undefined ? {} : { refresh: options.refresh }),
      ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
    }
    this.#tokens = new TokenManager(tokenOptions)
    const { binary, packageFrom } = options
    const searchPath = this.#searchPath
    this.#findBinary = () =>
      findCodexBinary({
        searchPath,
        ...(binary === undefined ? {} : { binary }),
        ...(packageFrom === undefined ? {} : { packageFrom }),
      })
  }

  /**
   * Runs one agent turn for `input.accountId` (steps in the module comment). The events end with exactly one
   * `done` or `error`, sent after the read-back and the deletion of the run's files.
   */
  async *run(input: RunInput): AsyncGenerator<RunEvent, void, undefined> {
    const { accountId } = input
    if (this.#active.has(accountId)) {
      yield runError('run_in_progress')
      return
    }
    this.#active.add(accountId)
    const controller = new AbortController()
    const forward = (): void => {
      controller.abort(input.signal.reason)
    }
    if (input.signal.aborted) forward()
    else input.signal.addEventListener('abort', forward, { once: true })
    const queue = new EventQueue<RunEvent>()
    // The run's lifecycle does not depend on the reader: it ends (and cleans up) even if nobody reads on.
    const task = this.#execute(input, controller.signal, queue)
      .catch((error: unknown) => {
        this.#logger.error({ event: 'runner.internal', accountId, err: error }, 'runner.internal')
        queue.push(runError('internal'))
        queue.close()
      })
      .finally(() => {
        input.signal.removeEventListener('abort', forward)
        this.#active.delete(accountId)
      })
    try {
      for (;;) {
        const event = await queue.next()
        if (event === null) return
        yield event
        if (isTerminalRunEvent(event)) return
      }
    } finally {
      // A reader that leaves early stops the run; either way the cleanup has finished when this returns.
      controller.abort()
      await task
    }
  }

  async #execute(input: RunInput, signal: AbortSignal, queue: EventQueue<RunEvent>): Promise<void> {
    const { accountId } = input
    const runId = randomUUID()
    const secrets = new Set<string>()
    let scratch: TemporaryCodexHome | null = null
    let lent: LentTokens | null = null
    let proc: ExecProcess | null = null
    let exit: ExecProcessResult | null = null
    let terminal: TerminalRunEvent
    try {
      const checked = await checkInput(input, this.#defaultModel)
      const binary = await this.#binaryOnce()
      this.#tokens.forget(accountId)
      await this.#tokens.getAccessToken(accountId, { signal })
      scratch = await createTemporaryCodexHome({
        backendBase: this.#backendBase,
        ...(this.#tempDir === undefined ? {} : { parent: this.#tempDir }),
      })
      lent = await this.#lend(accountId, scratch.authFile, secrets, runId)
      signal.throwIfAborted()
      const args = [
        ...binary.prefixArgs,
        'exec',
        '--json',
        '--skip-git-repo-check',
        '--sandbox',
        this.#sandbox,
        ...(checked.model === null ? [] : ['--model', checked.model]),
        '-',
      ]
      this.#logger.info(
        { event: 'runner.start', runId, accountId, source: binary.source, model: checked.model },
        'runner.start',
      )
      proc = startExecProcess({
        command: binary.command,
        args,
        cwd: checked.cwd ?? scratch.workDir,
        env: codexChildEnvironment({
          searchPath: this.#searchPath,
          home: scratch.home,
          lang: this.#lang,
          issuer: this.#issuer.issuer,
        }),
        stdin: input.prompt,
        timeoutMs: this.#timeoutMs,
        maxStdoutBytes: this.#maxStdoutBytes,
        maxStderrBytes: this.#maxStderrBytes,
        signal,
      })
      const translator = new CodexExecTranslator()
      for await (const line of proc.lines) {
        for (const event of translator.accept(line)) {
          if (event.type !== 'text') {
            queue.push(event)
            continue
          }
          // The CLI may have rotated the tokens a moment ago: scrub the current ones too.
          for (const token of await tokensInAuthFile(scratch.authFile)) secrets.add(token)
          queue.push({ type: 'text', delta: scrubKnownSecrets(event.delta, secrets) })
        }
      }
      exit = await proc.result
      terminal = outcomeOf(exit, translator)
      if (translator.terminal?.type === 'error') {
        this.#logger.warn(
          {
            event: 'runner.agent_failed',
            runId,
            accountId,
            detail: redactStderr(translator.failureDetail ?? '', secrets),
          },
          'runner.agent_failed',
        )
      }
    } catch (error) {
      terminal = runErrorFrom(error, signal)
    } finally {
      if (proc !== null && exit === null) {
        proc.stop('aborted')
        exit = await proc.result
      }
      if (lent !== null && scratch !== null) {
        await this.#readBack(accountId, scratch.authFile, lent, secrets, runId)
      }
      if (scratch !== null) {
        await scratch.remove().catch((error: unknown) => {
          this.#logger.error(
            { event: 'runner.cleanup_failed', runId, accountId, err: error },
            'runner.cleanup_failed',
          )
        })
      }
    }
    this.#logExit(runId, accountId, exit, terminal, secrets)
    queue.push(terminal)
    queue.close()
  }

  /** Under the account lock: the stored tokens, checked, written as the CLI's auth.json. */
  async #lend(
    accountId: string,
    authFile: string,
    secrets: Set<string>,
    runId: string,
  ): Promise<LentTokens> {
    const lockOptions = this.#lockTimeoutMs === undefined ? {} : { timeoutMs: this.#lockTimeoutMs }
    return this.#store.withAccountLock(
      accountId,
      async () => {
        const account = await this.#store.get(accountId)
        if (account === null) {
          throw new BrokerError('ERR_NOT_FOUND', `There is no account ${accountId}.`)
        }
        if (account.auth.kind !== 'chatgpt') {
          throw new BrokerError(
            'ERR_INVALID_REQUEST',
            `Account ${accountId} is an API-key account; the codex-cli runner lends ChatGPT sign-ins only.`,
          )
        }
        if (account.status !== 'active' || account.refreshInFlightSince != null) {
          throw new BrokerError('ERR_NEEDS_LOGIN', `Account ${accountId} needs to sign in again.`, {
            hint: 'Run `codex-broker login`.',
          })
        }
        const { auth } = account
        for (const token of [auth.idToken, auth.accessToken, auth.refreshToken]) {
          secrets.add(token.reveal())
        }
        await writeCodexAuthFile(authFile, account, {
          issuer: this.#issuer.issuer,
          clientId: this.#issuer.clientId,
        })
        const expiresAt = expiryOf(auth.accessToken) ?? auth.expiresAt
        if (
          expiresAt !== null &&
          expiresAt - this.#clock.now() < CLI_REFRESH_WINDOW_MS + this.#timeoutMs
        ) {
          // The issuer's tokens live shorter than a run: the CLI will refresh during it (read back afterwards).
          this.#logger.warn(
            { event: 'runner.token_short_lived', runId, accountId },
            'runner.token_short_lived',
          )
        }
        return {
          refreshToken: auth.refreshToken,
          chatgptAccountId: chatgptAccountIdOf(auth.accessToken) ?? accountId,
        }
      },
      lockOptions,
    )
  }

  async #readBack(
    accountId: string,
    authFile: string,
    lent: LentTokens,
    secrets: Set<string>,
    runId: string,
  ): Promise<void> {
    try {
      const { outcome, found } = await readBackTokens({
        store: this.#store,
        accountId,
        chatgptAccountId: lent.chatgptAccountId,
        authFile,
        lent: lent.refreshToken,
        ...(this.#lockTimeoutMs === undefined ? {} : { lockTimeoutMs: this.#lockTimeoutMs }),
      })
      if (found !== null) {
        for (const token of [found.idToken, found.accessToken, found.refreshToken]) {
          secrets.add(token.reveal())
        }
      }
      if (outcome === 'saved') this.#tokens.forget(accountId)
      const level = outcome === 'saved' || outcome === 'unchanged' ? 'info' : 'warn'
      this.#logger[level](
        { event: 'runner.readback', runId, accountId, outcome },
        'runner.readback',
      )
    } catch (error) {
      this.#logger.error(
        { event: 'runner.readback_failed', runId, accountId, err: error },
        'runner.readback_failed',
      )
    }
  }

  #logExit(
    runId: string,
    accountId: string,
    exit: ExecProcessResult | null,
    terminal: TerminalRunEvent,
    secrets: Set<string>,
  ): void {
    const failed = terminal.type === 'error'
    this.#logger[failed ? 'warn' : 'info'](
      {
        event: 'runner.end',
        runId,
        accountId,
        outcome: terminal.type === 'done' ? 'done' : terminal.code,
        exitCode: exit?.exitCode ?? null,
        signal: exit?.signal ?? null,
        stopped: exit?.stopped ?? null,
      },
      'runner.end',
    )
    if (exit !== null && exit.stderr !== '') {
      this.#logger[failed ? 'warn' : 'debug'](
        { event: 'runner.stderr', runId, accountId, stderr: redactStderr(exit.stderr, secrets) },
        'runner.stderr',
      )
    }
  }

  #binaryOnce(): Promise<CodexBinary> {
    const found = (this.#binary ??= this.#findBinary())
    // A failed lookup is not cached: installing the CLI fixes the next run.
    found.catch(() => {
      if (this.#binary === found) this.#binary = null
    })
    return found
  }
}

/** The ChatGPT account id of an access token (a store may keep the account under an id of its own). */
function chatgptAccountIdOf(accessToken: Secret): string | null {
  try {
    return parseAccessTokenClaims(accessToken).chatgptAccountId
  } catch {
    return null
  }
}

function expiryOf(accessToken: Secret): number | null {
  try {
    return parseAccessTokenClaims(accessToken).expiresAt
  } catch {
    return null
  }
}

/** The terminal event of a finished process: the CLI's own, else why it was stopped or how it exited. */
function outcomeOf(exit: ExecProcessResult, translator: CodexExecTranslator): TerminalRunEvent {
  if (translator.terminal !== null) return translator.terminal
  if (exit.spawnError !== null) return runError('agent_start_failed')
  switch (exit.stopped) {
    case 'aborted':
      return runError('aborted')
    case 'timeout':
      return runError('timeout')
    case 'stdout_limit':
    case 'stderr_limit':
      return runError('output_too_large')
    case null:
      return translator.finish(exit)
  }
}

async function checkInput(input: RunInput, defaultModel: string | null): Promise<CheckedInput> {
  if (typeof input.prompt !== 'string' || input.prompt.trim() === '') {
    throw invalid('The prompt is empty.')
  }
  if (Buffer.byteLength(input.prompt, 'utf8') > MAX_PROMPT_BYTES) {
    throw new BrokerError('ERR_PAYLOAD_TOO_LARGE', 'The prompt is larger than 1 MiB.')
  }
  const model = input.model ?? defaultModel
  if (model !== null && !MODEL_NAME.test(model)) throw invalid('The model is not a model name.')
  const { cwd } = input
  if (cwd === undefined) return { model, cwd: null }
  if (!isAbsolute(cwd)) throw invalid('The working directory must be an absolute path.')
  const info = await stat(cwd).catch(() => null)
  if (info?.isDirectory() !== true) throw invalid('The working directory is not a directory.')
  return { model, cwd }
}
