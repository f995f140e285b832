/**
 * CodexCliRunner end to end with the fake `codex` (fixtures/fake-codex.mjs) against the simulator: the fake reads
 * the lent auth.json, really calls the simulator's backend with the lent token, and, when told, refreshes the
 * token itself during the run the way the official CLI does. Each test names the guarantee it guards: the turn's
 * events, the read-back of a rotation (and that the broker's next refresh then reuses nothing), cleanup on every
 * path, the clean environment, the private modes, the process-tree kill, the limits, one run per account, and no
 * token in any event or log line.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, symlink, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import { refreshTokens } from '../../src/oauth/index.js'
import { CodexCliRunner, type RunEvent } from '../../src/runners/index.js'
import { TokenManager } from '../../src/tokens/index.js'
import {
  collect,
  FAKE_CODEX,
  isAlive,
  type Observed,
  setup,
  waitDead,
  waitForJson,
} from './fixtures.js'

const CANARY_VARIABLE = 'CODEX_BROKER_RUNNER_TEST_CANARY'
const CANARY_VALUE = 'env-canary-3b1f9c2e'

afterEach(() => {
  Reflect.deleteProperty(process.env, CANARY_VARIABLE)
})

function textOf(events: RunEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.delta : '')).join('')
}

function terminalOf(events: RunEvent[]): RunEvent | undefined {
  return events.at(-1)
}

async function storedRefreshToken(
  store: Awaited<ReturnType<typeof setup>>['store'],
  id: string,
): Promise<string> {
  const account = await store.get(id)
  if (account?.auth.kind !== 'chatgpt') throw new Error('not a ChatGPT account')
  return account.auth.refreshToken.reveal()
}

describe('CodexCliRunner with the fake codex against the simulator', () => {
  it('a turn completes: the answer as text, then done with Responses-shaped usage; the run dir is gone', async () => {
    const t = await setup()
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'hello from the runner',
        model: 'gpt-5.4',
        signal: new AbortController().signal,
      }),
    )
    expect(textOf(events)).toContain('hello from the runner')
    const done = terminalOf(events)
    expect(done?.type).toBe('done')
    const usage = done?.type === 'done' ? (done.usage as Record<string, unknown>) : {}
    expect(usage.input_tokens).toBeGreaterThan(0)
    expect(usage.output_tokens).toBeGreaterThan(0)
    expect(usage.total_tokens).toBe(Number(usage.input_tokens) + Number(usage.output_tokens))
    expect(usage).toHaveProperty('input_tokens_details.cached_tokens')
    // The fake really called the backend as alice, with the lent token.
    expect(t.sim.control.counters().responsesByAccount[t.alice.accountId]).toBe(1)
    expect(events.filter((event) => event.type !== 'text')).toHaveLength(1)
    expect(await readdir(t.tempDir)).toEqual([])
  })

  it('the default working directory is a fresh empty directory inside the run dir, deleted after', async () => {
    const t = await setup()
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'whereami',
        signal: AbortSignal.timeout(15_000),
      }),
    )
    const where = /cwd=(\S+) entries=(\d+)/.exec(textOf(events))
    expect(where?.[2]).toBe('0')
    const cwd = where?.[1] ?? ''
    expect(cwd.startsWith(t.tempDir)).toBe(true)
    expect(existsSync(cwd)).toBe(false)
  })

  it('finds codex on the PATH it is given (a script with a shebang) and passes that PATH on', async () => {
    const t = await setup()
    const bin = join(t.dir, 'bin')
    await mkdir(bin)
    await symlink(FAKE_CODEX, join(bin, 'codex'))
    const searchPath = [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':')
    const cwd = await t.workDir('path-run')
    const runner = new CodexCliRunner({
      store: t.store,
      issuer: t.issuer,
      backendBase: t.sim.backendBase,
      searchPath,
      packageFrom: null,
      tempDir: t.tempDir,
    })
    const events = await collect(
      runner.run({
        accountId: t.alice.accountId,
        prompt: 'via PATH',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)?.type).toBe('done')
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    expect(observed.env.PATH).toBe(searchPath)
  })

  it('a refresh by the CLI during the run is read back: the broker’s next refresh uses the rotated token (0 reuse)', async () => {
    const t = await setup()
    const lent = await storedRefreshToken(t.store, t.alice.accountId)
    const cwd = await t.workDir('refresh-run', { refresh: true })
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'rotate',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)?.type).toBe('done')
    expect(t.sim.control.counters().refreshCalls).toBe(1)
    const saved = await storedRefreshToken(t.store, t.alice.accountId)
    expect(saved).not.toBe(lent)
    expect(t.sim.control.issued()).toContain(saved)
    expect(t.logLines.join('')).toContain('"outcome":"saved"')

    // The broker refreshes next (a window wider than the token's life forces it): the chain continues.
    const broker = new TokenManager({
      store: t.store,
      issuer: t.issuer,
      proactiveWindowMs: 2 * 60 * 60 * 1000,
    })
    await broker.getAccessToken(t.alice.accountId)
    const counters = t.sim.control.counters()
    expect(counters.refreshCalls).toBe(2)
    expect(counters.reuseEvents).toBe(0)
    expect(counters.revokedFamilies).toBe(0)
  })

  it('positive control: presenting the refresh token the CLI already rotated is a reuse the simulator counts', async () => {
    const t = await setup()
    const lent = Secret.from(await storedRefreshToken(t.store, t.alice.accountId))
    await refreshTokens(t.issuer, lent, 'proactive_expiry') // what the CLI did, not read back
    await expect(refreshTokens(t.issuer, lent, 'proactive_expiry')).rejects.toMatchObject({
      code: 'ERR_REFRESH_REUSED',
    })
    expect(t.sim.control.counters().reuseEvents).toBe(1)
  })

  it('the runner refreshes first when the stored token would expire during the run, and the CLI then does not', async () => {
    const t = await setup()
    const lent = await storedRefreshToken(t.store, t.alice.accountId)
    const cwd = await t.workDir('prerefresh-run')
    // Time limit + the CLI's 5-minute window + margin exceeds the simulator's 1-hour tokens.
    const events = await collect(
      t.runner({ timeoutMs: 60 * 60 * 1000 }).run({
        accountId: t.alice.accountId,
        prompt: 'fresh please',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)?.type).toBe('done')
    expect(t.sim.control.counters().refreshCalls).toBe(1)
    const stored = await storedRefreshToken(t.store, t.alice.accountId)
    expect(stored).not.toBe(lent)
    // The CLI got the refreshed tokens, not the old ones.
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    expect(observed.prompt).toBe('fresh please')
    expect(t.logLines.join('')).toContain('runner.token_short_lived')
  })

  it('the child environment is exactly PATH, HOME, CODEX_HOME, LANG and the refresh URL: nothing inherited', async () => {
    process.env[CANARY_VARIABLE] = CANARY_VALUE
    // Positive control: an ordinary child of this process does inherit the canary.
    const inherited = spawnSync(
      process.execPath,
      ['-e', `process.stdout.write(process.env.${CANARY_VARIABLE} ?? '')`],
      { encoding: 'utf8' },
    )
    expect(inherited.stdout).toBe(CANARY_VALUE)

    const t = await setup()
    const cwd = await t.workDir('env-run')
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'env',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)?.type).toBe('done')
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    expect(Object.keys(observed.env).sort()).toEqual([
      'CODEX_HOME',
      'CODEX_REFRESH_TOKEN_URL_OVERRIDE',
      'HOME',
      'LANG',
      'PATH',
    ])
    expect(JSON.stringify(observed.env)).not.toContain(CANARY_VALUE)
    expect(observed.env.HOME).toBe(observed.env.CODEX_HOME)
    expect(observed.env.CODEX_REFRESH_TOKEN_URL_OVERRIDE).toBe(`${t.sim.issuer}/oauth/token`)
    expect(observed.env.LANG).toBe('C.UTF-8')
    // The prompt went through stdin, never argv.
    expect(observed.argv).toEqual([
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--sandbox',
      'read-only',
      '-',
    ])
    expect(observed.prompt).toBe('env')
  })

  it('CODEX_HOME is 0700 and auth.json 0600 during the run, config.toml points at the backend; all gone after', async () => {
    const t = await setup()
    const cwd = await t.workDir('modes-run')
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'modes',
        model: 'gpt-5.4-mini',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)?.type).toBe('done')
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    expect(observed.homeMode).toBe(0o700)
    expect(observed.authMode).toBe(0o600)
    expect(observed.argv).toContain('gpt-5.4-mini')
    expect(observed.configText).toContain(`base_url = "${t.sim.backendBase}/codex"`)
    expect(observed.configText).toContain('requires_openai_auth = true')
    expect(observed.cwd).toBe(cwd)
    expect(existsSync(observed.home)).toBe(false)
    expect(await readdir(t.tempDir)).toEqual([])
    // The caller's directory is the caller's: kept.
    expect(existsSync(cwd)).toBe(true)
  })

  it('abort kills the whole process tree (a grandchild in its own session too), still reads back and deletes the home', async () => {
    const t = await setup()
    const lent = await storedRefreshToken(t.store, t.alice.accountId)
    const cwd = await t.workDir('abort-run', { mode: 'hang', refresh: true })
    const controller = new AbortController()
    const run = collect(
      t
        .runner()
        .run({ accountId: t.alice.accountId, prompt: 'hang', cwd, signal: controller.signal }),
    )
    const pids = await waitForJson<{ child: number; grandchild: number }>(join(cwd, 'pids.json'))
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    expect(isAlive(pids.child)).toBe(true)
    expect(isAlive(pids.grandchild)).toBe(true)
    controller.abort()
    const events = await run
    expect(terminalOf(events)).toEqual({
      type: 'error',
      code: 'aborted',
      message: 'The run was cancelled.',
    })
    expect(await waitDead(pids.child)).toBe(true)
    expect(await waitDead(pids.grandchild)).toBe(true)
    expect(existsSync(observed.home)).toBe(false)
    // The fake rotated before hanging: the rotation is home although the run was aborted.
    expect(await storedRefreshToken(t.store, t.alice.accountId)).not.toBe(lent)
    const broker = new TokenManager({
      store: t.store,
      issuer: t.issuer,
      proactiveWindowMs: 2 * 60 * 60 * 1000,
    })
    await broker.getAccessToken(t.alice.accountId)
    expect(t.sim.control.counters().reuseEvents).toBe(0)
  })

  it('a reader that stops early (return at an event) stops the run the same way', async () => {
    const t = await setup()
    const cwd = await t.workDir('return-run', { mode: 'hang', say: 'partial answer' })
    const events = t.runner().run({
      accountId: t.alice.accountId,
      prompt: 'hang',
      cwd,
      signal: new AbortController().signal,
    })
    expect((await events.next()).value).toEqual({ type: 'text', delta: 'partial answer' })
    const pids = await waitForJson<{ child: number; grandchild: number }>(join(cwd, 'pids.json'))
    const observed = await waitForJson<Observed>(join(cwd, 'observed.json'))
    const started = Date.now()
    await events.return(undefined)
    // return() settles after the cleanup, long before the 15-second time limit.
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(existsSync(observed.home)).toBe(false)
    expect(await waitDead(pids.child)).toBe(true)
    expect(await waitDead(pids.grandchild)).toBe(true)
  })

  it('timeout: the tree is killed and the run ends with timeout', async () => {
    const t = await setup()
    const cwd = await t.workDir('timeout-run', { mode: 'hang' })
    const started = Date.now()
    const events = await collect(
      t.runner({ timeoutMs: 1_500 }).run({
        accountId: t.alice.accountId,
        prompt: 'hang',
        cwd,
        signal: new AbortController().signal,
      }),
    )
    expect(terminalOf(events)).toMatchObject({ type: 'error', code: 'timeout' })
    expect(Date.now() - started).toBeLessThan(10_000)
    const pids = await waitForJson<{ child: number; grandchild: number }>(join(cwd, 'pids.json'))
    expect(await waitDead(pids.grandchild)).toBe(true)
    expect(await readdir(t.tempDir)).toEqual([])
  })

  it('output limits: too much stdout or stderr ends the run with output_too_large', async () => {
    const t = await setup()
    const spew = await t.workDir('spew-run', { mode: 'spew' })
    const stdoutEvents = await collect(
      t.runner({ maxStdoutBytes: 256 * 1024 }).run({
        accountId: t.alice.accountId,
        prompt: 'x',
        cwd: spew,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(stdoutEvents)).toMatchObject({ type: 'error', code: 'output_too_large' })
    const spewErr = await t.workDir('spew-stderr-run', { mode: 'spew-stderr' })
    const stderrEvents = await collect(
      t.runner({ maxStderrBytes: 8 * 1024 }).run({
        accountId: t.bob.accountId,
        prompt: 'x',
        cwd: spewErr,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(stderrEvents)).toMatchObject({ type: 'error', code: 'output_too_large' })
    expect(await readdir(t.tempDir)).toEqual([])
  })

  it('a CLI that exits without finishing the turn ends the run with agent_exited and its exit code', async () => {
    const t = await setup()
    const cwd = await t.workDir('exit-run', { mode: 'exit' })
    const events = await collect(
      t.runner().run({
        accountId: t.alice.accountId,
        prompt: 'x',
        cwd,
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(events)).toMatchObject({ type: 'error', code: 'agent_exited' })
    expect(terminalOf(events)?.type === 'error' && terminalOf(events)).toMatchObject({
      message: expect.stringContaining('exit code 3') as unknown,
    })
    expect(t.logLines.join('')).toContain('something broke')
  })

  it('one run per account: a second concurrent run is refused, another account’s run proceeds', async () => {
    const t = await setup()
    const runner = t.runner()
    const hangDir = await t.workDir('busy-run', { mode: 'hang' })
    const controller = new AbortController()
    const first = collect(
      runner.run({
        accountId: t.alice.accountId,
        prompt: 'hang',
        cwd: hangDir,
        signal: controller.signal,
      }),
    )
    await waitForJson(join(hangDir, 'pids.json'))

    const refused = await collect(
      runner.run({
        accountId: t.alice.accountId,
        prompt: 'again',
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(refused).toEqual([
      {
        type: 'error',
        code: 'run_in_progress',
        message: expect.stringContaining('already has an agent run in progress') as unknown,
      },
    ])
    const other = await collect(
      runner.run({
        accountId: t.bob.accountId,
        prompt: 'bob meanwhile',
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(other)?.type).toBe('done')
    expect(textOf(other)).toContain('bob meanwhile')

    controller.abort()
    expect(terminalOf(await first)).toMatchObject({ code: 'aborted' })
    // Once the first run is over, the account may run again.
    const again = await collect(
      runner.run({
        accountId: t.alice.accountId,
        prompt: 'now me',
        signal: AbortSignal.timeout(15_000),
      }),
    )
    expect(terminalOf(again)?.type).toBe('done')
  })

  it('refuses an unknown account, a relative cwd and a model that is not a name, before starting anything', async () => {
    const t = await setup()
    const runner = t.runner()
    const signal = AbortSignal.timeout(15_000)
    expect(
      terminalOf(await collect(runner.run({ accountId: 'nobody', prompt: 'x', signal }))),
    ).toMatchObject({
      code: 'not_found',
    })
    expect(
      terminalOf(
        await collect(
          runner.run({ accountId: t.alice.accountId, prompt: 'x', cwd: 'relative', signal }),
        ),
      ),
    ).toMatchObject({ code: 'invalid_request' })
    expect(
      terminalOf(
        await collect(
          runner.run({ accountId: t.alice.accountId, prompt: 'x', model: '--yolo', signal }),
        ),
      ),
    ).toMatchObject({ code: 'invalid_request' })
    expect(t.sim.control.counters().responsesByAccount).toEqual({})
    expect(await readdir(t.tempDir)).toEqual([])
  })

  it('refuses a configuration that would lift a limit or the sandbox', async () => {
    const t = await setup()
    for (const options of [
      { timeoutMs: 0 },
      { maxStdoutBytes: Number.POSITIVE_INFINITY },
      { maxStderrBytes: -1 },
      { sandbox: 'danger-full-access' as never },
      { defaultModel: '--dangerously-bypass-approvals-and-sandbox' },
    ]) {
      expect(() => t.runner(options)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }) as unknown,
      )
    }
    expect(() => t.runner({ sandbox: 'workspace-write', timeoutMs: 1 })).not.toThrow()
  })

  it('no token in any event or log line: stderr redacted, agent text scrubbed, turn.failed text kept out (canary scan)', async () => {
    // A logger without redaction of its own: what reaches it is what the runner lets out.
    const t = await setup({ rawLogger: true })
    const all: RunEvent[] = []
    const secretsDir = await t.workDir('secrets-run', { mode: 'print-secrets', refresh: true })
    all.push(
      ...(await collect(
        t.runner().run({
          accountId: t.alice.accountId,
          prompt: 'tell me',
          cwd: secretsDir,
          signal: AbortSignal.timeout(15_000),
        }),
      )),
    )
    const failDir = await t.workDir('fail-run', { mode: 'fail' })
    all.push(
      ...(await collect(
        t.runner().run({
          accountId: t.bob.accountId,
          prompt: 'fail',
          cwd: failDir,
          signal: AbortSignal.timeout(15_000),
        }),
      )),
    )
    const okDir = await t.workDir('ok-run')
    all.push(
      ...(await collect(
        t.runner().run({
          accountId: t.alice.accountId,
          prompt: 'plain',
          cwd: okDir,
          signal: AbortSignal.timeout(15_000),
        }),
      )),
    )
    const events = JSON.stringify(all)
    const logs = t.logLines.join('')
    // The scan reads real output: the answer, the failure, the redacted stderr and the read-back are there.
    expect(events).toContain('Your token is [REDACTED] and [REDACTED].')
    expect(events).toContain('agent_failed')
    expect(logs).toContain('runner.stderr')
    expect(logs).toContain('Authorization: [REDACTED]')
    expect(logs).toContain('runner.agent_failed')
    expect(logs).toContain('"outcome":"saved"')
    // Positive control: what the fake printed on stderr does hold issued tokens.
    const issued = t.sim.control.issued()
    expect(issued.length).toBeGreaterThan(6)
    const raw = readFileSync(join(secretsDir, 'raw-stderr.txt'), 'utf8')
    expect(issued.some((secret) => raw.includes(secret))).toBe(true)
    for (const secret of issued) {
      expect(events).not.toContain(secret)
      expect(logs).not.toContain(secret)
      expect(logs).not.toContain(Buffer.from(secret).toString('base64'))
    }
  })
})
