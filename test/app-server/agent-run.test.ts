/**
 * `agent/run` over a real upgraded WebSocket, with the real methods and a `CodexCliRunner` on the fake `codex` of
 * test/runners/fixtures against the simulator: a run streams `agent/event` notifications (text, then done) and
 * answers `{status: "completed", usage}`; `responses/cancel` by `runId` kills the agent's whole process tree and
 * answers `-32800` once the run's files are gone; a second run of the same account is refused while another
 * account's runs; a `cwd` is refused unless the server allows it, and then only inside the allowed directories;
 * a server without a runner says so; and no frame carries a secret the simulator issued.
 */
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAppServerMethods } from '../../src/app-server/methods/create-app-server-methods.js'
import type { AppServerServices } from '../../src/app-server/methods/services.js'
import { TokenManager } from '../../src/tokens/index.js'
import { setup, waitDead, waitForJson, type Observed } from '../runners/fixtures.js'
import { openClient, useAppServer, type Client } from './ws-fixture.js'

interface Frame {
  id?: number | string
  method?: string
  params?: { requestId?: number | string; runId?: string; event?: Record<string, unknown> }
  result?: Record<string, unknown>
  error?: { code: number; message: string; data?: Record<string, unknown> }
}

/**
 * A server with the real methods over the runners fixture, and an initialized client recording every frame.
 * `allow`: a directory under the fixture's (created; '' for the fixture's own) that `agentWorkDirs` allows.
 */
async function useAgentServer(
  extra: Partial<AppServerServices> = {},
  allow: string | null = null,
  withRunner = true,
) {
  const t = await setup()
  const root = join(t.dir, allow ?? '')
  if (allow !== null && allow !== '') await mkdir(root)
  const services: AppServerServices = {
    store: t.store,
    tokens: new TokenManager({ store: t.store, issuer: t.issuer }),
    issuer: t.issuer,
    backendBase: t.sim.backendBase,
    identity: { originator: 'codex_cli_rs', version: '0.0.0-test' },
    // A time limit far beyond any test's: only the cancel can end a hanging run in time.
    ...(withRunner ? { agentRunner: t.runner({ timeoutMs: 120_000 }) } : {}),
    ...(allow === null ? {} : { agentWorkDirs: [root] }),
    ...extra,
  }
  const built = createAppServerMethods(services)
  const { server } = await useAppServer({ methods: built.methods })
  onTestFinished(() => built.close())
  const client = await openClient(server)
  const frames: Frame[] = []
  client.ws.on('message', (data: Buffer) => {
    frames.push(JSON.parse(data.toString('utf8')) as Frame)
  })
  expect(await client.call('initialize', { clientInfo: { name: 'agent-test' } }, 0)).toMatchObject({
    id: 0,
    result: { serverInfo: { name: 'codex-broker' } },
  })
  return { t, client, frames, root }
}

/** Reads frames until the answer to `id`; answers it and the notifications seen before it. */
async function answerOf(client: Client, id: number): Promise<{ answer: Frame; seen: Frame[] }> {
  const seen: Frame[] = []
  for (;;) {
    const frame = (await client.next()) as Frame
    if (frame.id === id && frame.method === undefined) return { answer: frame, seen }
    seen.push(frame)
  }
}

/** Reads frames until a notification matching `where`. */
async function untilNotification(
  client: Client,
  where: (frame: Frame) => boolean,
): Promise<Frame[]> {
  const seen: Frame[] = []
  for (;;) {
    const frame = (await client.next()) as Frame
    seen.push(frame)
    if (frame.method !== undefined && where(frame)) return seen
  }
}

function send(client: Client, id: number, method: string, params: unknown): void {
  client.send({ jsonrpc: '2.0', id, method, params })
}

function textOf(frames: Frame[]): string {
  return frames
    .map((frame) => (frame.params?.event?.type === 'text' ? String(frame.params.event.delta) : ''))
    .join('')
}

describe('agent/run over the WebSocket', () => {
  it('streams agent/event notifications (text, then done) and answers {status: "completed", usage}', async () => {
    const { t, client } = await useAgentServer()
    send(client, 1, 'agent/run', {
      prompt: 'hello from the app-server agent',
      accountId: t.alice.accountId,
      runId: 'run-1',
    })
    const { answer, seen } = await answerOf(client, 1)
    expect(answer.error).toBeUndefined()
    expect(answer.result).toMatchObject({
      status: 'completed',
      usage: {
        input_tokens: expect.any(Number) as number,
        output_tokens: expect.any(Number) as number,
      },
    })
    expect(seen.length).toBeGreaterThanOrEqual(2)
    for (const frame of seen) {
      expect(frame.method).toBe('agent/event')
      expect(frame.params).toMatchObject({ requestId: 1, runId: 'run-1' })
    }
    expect(textOf(seen)).toContain('hello from the app-server agent')
    expect(seen.at(-1)?.params?.event).toEqual({ type: 'done', usage: answer.result?.usage })
    expect(t.sim.control.counters().responsesByAccount[t.alice.accountId]).toBe(1)
    expect(await readdir(t.tempDir)).toEqual([])
  })

  it('responses/cancel by runId kills the agent process tree and answers -32800 after cleanup', async () => {
    const allowed = await useAgentServer({}, '')
    const cwd = await allowed.t.workDir('hang', { mode: 'hang', say: 'started' })
    send(allowed.client, 1, 'agent/run', {
      prompt: 'run until cancelled',
      accountId: allowed.t.alice.accountId,
      runId: 'long',
      cwd,
    })
    const before = await untilNotification(
      allowed.client,
      (frame) => frame.params?.event?.type === 'text',
    )
    expect(textOf(before)).toBe('started')
    const pids = await waitForJson<{ child: number; grandchild: number }>(join(cwd, 'pids.json'))
    // A second run of the same account is refused while this one runs; another account's run proceeds.
    send(allowed.client, 2, 'agent/run', { prompt: 'again', accountId: allowed.t.alice.accountId })
    const second = await answerOf(allowed.client, 2)
    expect(second.answer.error).toMatchObject({ code: -32000, data: { code: 'run_in_progress' } })
    send(allowed.client, 3, 'agent/run', {
      prompt: 'bob meanwhile',
      accountId: allowed.t.bob.accountId,
    })
    const bob = await answerOf(allowed.client, 3)
    expect(bob.answer.result).toMatchObject({ status: 'completed' })
    // Cancel: the run's answer is -32800, and by then the tree is dead and the files gone.
    const cancelledAt = Date.now()
    send(allowed.client, 4, 'responses/cancel', { runId: 'long' })
    const frames: Frame[] = []
    while (frames.filter((frame) => frame.id === 1 || frame.id === 4).length < 2) {
      frames.push((await allowed.client.next()) as Frame)
    }
    expect(Date.now() - cancelledAt).toBeLessThan(5_000)
    expect(frames.find((frame) => frame.id === 4)?.result).toEqual({ cancelled: true })
    expect(frames.find((frame) => frame.id === 1)?.error).toMatchObject({
      code: -32800,
      message: 'Request cancelled.',
    })
    expect(await readdir(allowed.t.tempDir)).toEqual([])
    expect(await waitDead(pids.child)).toBe(true)
    expect(await waitDead(pids.grandchild)).toBe(true)
    // The account is free again.
    send(allowed.client, 5, 'agent/run', { prompt: 'after', accountId: allowed.t.alice.accountId })
    expect((await answerOf(allowed.client, 5)).answer.result).toMatchObject({ status: 'completed' })
  })

  it('by default any cwd is refused, even an existing directory, and the path is not echoed', async () => {
    const { t, client } = await useAgentServer()
    const cwd = await t.workDir('default-refused')
    send(client, 1, 'agent/run', { prompt: 'x', accountId: t.alice.accountId, cwd })
    const refused = await answerOf(client, 1)
    expect(refused.answer.error).toMatchObject({ code: -32602 })
    expect(refused.answer.error?.message).toContain('cwd is not accepted')
    expect(refused.answer.error?.message).not.toContain(cwd)
    expect(t.sim.control.counters().responsesByAccount[t.alice.accountId]).toBeUndefined()
    // Positive control: without the cwd the same call runs.
    send(client, 2, 'agent/run', { prompt: 'x', accountId: t.alice.accountId })
    expect((await answerOf(client, 2)).answer.result).toMatchObject({ status: 'completed' })
  })

  it('a cwd outside the allowed directories is refused: elsewhere, through .., through a link', async () => {
    const allowed = await useAgentServer({}, 'allowed')
    const { t, client } = allowed
    const outside = join(t.dir, 'outside')
    await mkdir(outside)
    await symlink(outside, join(allowed.root, 'link-out'))
    const attempts = [
      tmpdir(),
      outside,
      `${allowed.root}/../outside`,
      join(allowed.root, 'link-out'),
      'relative/dir',
      join(allowed.root, 'missing'),
    ]
    let id = 1
    for (const cwd of attempts) {
      send(client, id, 'agent/run', { prompt: 'x', accountId: t.alice.accountId, cwd })
      const { answer } = await answerOf(client, id)
      expect(answer.error, cwd).toMatchObject({ code: -32602 })
      id += 1
    }
    expect(t.sim.control.counters().responsesByAccount[t.alice.accountId]).toBeUndefined()
    // Positive control: a directory inside the allowed one is accepted and is where the agent runs.
    const inside = join(allowed.root, 'project')
    await mkdir(inside)
    await writeFile(join(inside, 'fake-codex.json'), '{}')
    send(client, id, 'agent/run', { prompt: 'whereami', accountId: t.alice.accountId, cwd: inside })
    const { answer, seen } = await answerOf(client, id)
    expect(answer.result).toMatchObject({ status: 'completed' })
    const observed = await waitForJson<Observed>(join(inside, 'observed.json'))
    expect(observed.cwd).toBe(inside)
    expect(textOf(seen)).toContain(`cwd=${inside}`)
  })

  it('without an agent runner the method says so; unknown params and an empty prompt are refused', async () => {
    const { t, client } = await useAgentServer({}, null, false)
    send(client, 1, 'agent/run', { prompt: 'hi', accountId: t.alice.accountId })
    const none = await answerOf(client, 1)
    expect(none.answer.error).toMatchObject({ code: -32000 })
    expect(none.answer.error?.message).toContain('--agent-runner codex-cli')
    send(client, 2, 'agent/run', { prompt: 'hi', sandbox: 'danger-full-access' })
    expect((await answerOf(client, 2)).answer.error).toMatchObject({ code: -32602 })
    send(client, 3, 'agent/run', { prompt: '' })
    expect((await answerOf(client, 3)).answer.error).toMatchObject({ code: -32602 })
  })

  it('an error event is a -32000 with its code, after the event went out as a notification', async () => {
    const allowed = await useAgentServer({}, '')
    const cwd = await allowed.t.workDir('fail', { mode: 'fail' })
    send(allowed.client, 1, 'agent/run', {
      prompt: 'fail',
      accountId: allowed.t.alice.accountId,
      cwd,
    })
    const { answer, seen } = await answerOf(allowed.client, 1)
    expect(answer.error).toMatchObject({
      code: -32000,
      message: 'The agent turn failed.',
      data: { code: 'agent_failed' },
    })
    expect(seen.at(-1)?.params?.event).toEqual({
      type: 'error',
      code: 'agent_failed',
      message: 'The agent turn failed.',
    })
  })

  it('token canary: no frame carries a secret the simulator issued', async () => {
    const { t, client, frames } = await useAgentServer({}, '')
    const refreshDir = await t.workDir('refresh', { refresh: true })
    const secretsDir = await t.workDir('secrets', { mode: 'print-secrets', refresh: true })
    let id = 1
    for (const params of [
      { prompt: 'plain', accountId: t.alice.accountId },
      { prompt: 'rotate', accountId: t.alice.accountId, cwd: refreshDir },
      { prompt: 'leak please', accountId: t.alice.accountId, cwd: secretsDir },
      { prompt: 'bob', accountId: t.bob.accountId },
    ]) {
      send(client, id, 'agent/run', params)
      expect((await answerOf(client, id)).answer.result).toMatchObject({ status: 'completed' })
      id += 1
    }
    expect(t.sim.control.counters().refreshCalls).toBe(2)
    const issued = t.sim.control.issued()
    expect(issued.length).toBeGreaterThanOrEqual(6)
    const text = JSON.stringify(frames)
    expect(text).toContain('Your token is')
    const leaked = (haystack: string): string[] =>
      issued.filter(
        (secret) =>
          haystack.includes(secret) || haystack.includes(Buffer.from(secret).toString('base64url')),
      )
    expect(leaked(text)).toEqual([])
    // Positive control: the scan finds a token placed in the frames.
    const [token = ''] = issued
    expect(leaked(`${text} ${token}`)).toEqual([token])
  })
})
