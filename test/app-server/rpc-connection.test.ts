/**
 * JSON-RPC over the app-server's connections: parse and validation errors, batches, notifications, initialize
 * first and once, duplicate ids, the in-flight cap, handler errors, per-connection routing (WS-12), frame limits
 * (DOS-06, DOS-07) and close(). Real server on port 0, real `ws` clients.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/lib/index.js'
import { OVERLOADED_MESSAGE } from '../../src/app-server/rpc/rpc-error.js'
import { openClient, useAppServer, type Client } from './ws-fixture.js'

async function initialized(client: Client): Promise<Client> {
  expect(await client.call('initialize', {}, 'init')).toMatchObject({
    id: 'init',
    result: { server: 'test' },
  })
  return client
}

/** Resolves with a message, or 'silence' if none arrives within ms. */
function nextOrSilence(client: Client, ms = 150): Promise<unknown> {
  return client.nextWithin(ms)
}

describe('frame and request errors', () => {
  it('answers -32700, -32600, -32602 and -32601 with the right ids', async () => {
    const { server } = await useAppServer()
    const client = await initialized(await openClient(server))
    client.send('{not json')
    expect(await client.next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error' },
    })
    client.send('42')
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    client.send({ jsonrpc: '2.0', id: null, method: 'echo' })
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    client.send({ jsonrpc: '1.0', id: 3, method: 'echo' })
    expect(await client.next()).toMatchObject({ id: 3, error: { code: -32600 } })
    client.send({ jsonrpc: '2.0', id: 4, method: 7 })
    expect(await client.next()).toMatchObject({ id: 4, error: { code: -32600 } })
    client.send({ jsonrpc: '2.0', id: 5, method: 'echo', params: 'x' })
    expect(await client.next()).toMatchObject({ id: 5, error: { code: -32602 } })
    const long = `no/such\n${'x'.repeat(500)}`
    const missing = (await client.call('no/such')) as { error: { code: number; message: string } }
    expect(missing.error).toEqual({ code: -32601, message: 'Method not found: no/such' })
    const quoted = (await client.call(long)) as { error: { message: string } }
    expect(quoted.error.message).toContain('no/such\\u000a')
    expect(quoted.error.message.length).toBeLessThan(140)
    // Positive control: a valid request still works on the same connection.
    expect(await client.call('echo', { a: 1 }, 9)).toMatchObject({
      id: 9,
      result: { params: { a: 1 } },
    })
  })

  it('-32002 before initialize, -32600 on a second initialize', async () => {
    const { server, spy } = await useAppServer()
    const client = await openClient(server)
    expect(await client.call('echo', {}, 1)).toMatchObject({
      id: 1,
      error: { code: -32002, message: 'Not initialized: call initialize first.' },
    })
    expect(spy.calls).toEqual([])
    await initialized(client)
    expect(await client.call('initialize', {}, 2)).toMatchObject({
      id: 2,
      error: { code: -32600, message: 'Already initialized.' },
    })
    expect(await client.call('echo', {}, 3)).toMatchObject({ id: 3, result: {} })
  })

  it('handler errors: RpcError keeps code/message/data; anything else is -32603 without its message', async () => {
    const lines: string[] = []
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString('utf8'))
          callback()
        },
      }),
    })
    const { server } = await useAppServer({ logger })
    const client = await initialized(await openClient(server))
    const boom = await client.call('boom', undefined, 1)
    expect(boom).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32603, message: 'Internal error' },
    })
    expect(JSON.stringify(boom)).not.toContain('sk-secret')
    expect(lines.join('')).toContain('app-server: method failed')
    expect(await client.call('rpcFail', undefined, 2)).toEqual({
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32000, message: 'Not signed in.', data: { retry: false } },
    })
    expect(await client.call('nothing', undefined, 3)).toEqual({
      jsonrpc: '2.0',
      id: 3,
      result: null,
    })
  })
})

describe('batches and notifications', () => {
  it('answers a batch with the non-notification responses; all notifications → nothing', async () => {
    const { server, spy } = await useAppServer()
    const client = await initialized(await openClient(server))
    client.send([
      { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] },
      { jsonrpc: '2.0', method: 'echo', params: [2] },
      { jsonrpc: '2.0', id: 2, method: 'missing' },
      5,
    ])
    const answer = (await client.next()) as { id: unknown; error?: { code: number } }[]
    expect(answer).toHaveLength(3)
    expect(answer.map((entry) => entry.id)).toEqual([1, 2, null])
    expect(answer[1]?.error?.code).toBe(-32601)
    expect(answer[2]?.error?.code).toBe(-32600)
    const before = spy.calls.length
    client.send([
      { jsonrpc: '2.0', method: 'echo' },
      { jsonrpc: '2.0', method: 'echo' },
    ])
    expect(await nextOrSilence(client)).toBe('silence')
    expect(spy.calls.length).toBe(before + 2)
    client.send({ jsonrpc: '2.0', method: 'echo', params: {} })
    expect(await nextOrSilence(client)).toBe('silence')
    client.send('[]')
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    client.send(
      JSON.stringify(
        Array.from({ length: 101 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'echo' })),
      ),
    )
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
  })

  it('duplicate in-flight ids get -32600; the in-flight cap answers -32001 at once', async () => {
    const { server, spy } = await useAppServer({ maxQueuedRequests: 3 })
    const client = await initialized(await openClient(server))
    client.send({ jsonrpc: '2.0', id: 1, method: 'wait' })
    client.send({ jsonrpc: '2.0', id: 1, method: 'wait' })
    expect(await client.next()).toMatchObject({
      id: 1,
      error: { code: -32600, message: 'Duplicate request id.' },
    })
    client.send({ jsonrpc: '2.0', id: 2, method: 'wait' })
    client.send({ jsonrpc: '2.0', id: 3, method: 'wait' })
    client.send({ jsonrpc: '2.0', id: 4, method: 'wait' })
    expect(await client.next()).toEqual({
      jsonrpc: '2.0',
      id: 4,
      error: { code: -32001, message: OVERLOADED_MESSAGE },
    })
    spy.release()
    const done = [await client.next(), await client.next(), await client.next()] as {
      id: number
      result: string
    }[]
    expect(done.map((entry) => entry.id).sort()).toEqual([1, 2, 3])
    expect(done.every((entry) => entry.result === 'released')).toBe(true)
    expect(await client.call('echo', {}, 5)).toMatchObject({ id: 5, result: {} })
  })

  it('notify goes to the caller, broadcast to every initialized connection', async () => {
    const { server } = await useAppServer()
    const a = await initialized(await openClient(server))
    const b = await initialized(await openClient(server))
    const fresh = await openClient(server)
    a.send({ jsonrpc: '2.0', id: 1, method: 'notifyMe' })
    const seenA = [await a.next(), await a.next(), await a.next()]
    expect(seenA).toContainEqual({ jsonrpc: '2.0', method: 'test/note', params: { n: 1 } })
    expect(seenA).toContainEqual({ jsonrpc: '2.0', method: 'test/all', params: { n: 2 } })
    expect(seenA).toContainEqual({ jsonrpc: '2.0', id: 1, result: 'ok' })
    expect(await b.next()).toEqual({ jsonrpc: '2.0', method: 'test/all', params: { n: 2 } })
    expect(await nextOrSilence(fresh)).toBe('silence')
    server.broadcast('server/note', { x: 1 })
    expect(await b.next()).toEqual({ jsonrpc: '2.0', method: 'server/note', params: { x: 1 } })
  })
})

describe('WS-12: responses never cross connections', () => {
  it('two connections with the same ids get their own answers', async () => {
    const { server } = await useAppServer()
    const a = await initialized(await openClient(server))
    const b = await initialized(await openClient(server))
    for (let id = 1; id <= 50; id += 1) {
      a.send({ jsonrpc: '2.0', id, method: 'echo', params: { tag: 'A' } })
      b.send({ jsonrpc: '2.0', id, method: 'echo', params: { tag: 'B' } })
    }
    type Echo = { id: number; result: { params: { tag: string }; connectionId: string } }
    const collect = async (client: Client) =>
      (await Promise.all(Array.from({ length: 50 }, () => client.next()))) as Echo[]
    const [fromA, fromB] = await Promise.all([collect(a), collect(b)])
    expect(fromA.every((entry) => entry.result.params.tag === 'A')).toBe(true)
    expect(fromB.every((entry) => entry.result.params.tag === 'B')).toBe(true)
    expect(new Set(fromA.map((entry) => entry.id)).size).toBe(50)
    const idsA = new Set(fromA.map((entry) => entry.result.connectionId))
    const idsB = new Set(fromB.map((entry) => entry.result.connectionId))
    expect(idsA.size).toBe(1)
    expect(idsB.size).toBe(1)
    expect([...idsA][0]).not.toBe([...idsB][0])
    expect(await nextOrSilence(a)).toBe('silence')
  })
})

describe('frame limits', () => {
  it('DOS-06: a frame of maxPayload+1 closes with 1009; the server still serves', async () => {
    const { server } = await useAppServer({ maxPayloadBytes: 1024 })
    const client = await initialized(await openClient(server))
    client.send('x'.repeat(1025))
    expect((await client.closed).code).toBe(1009)
    const next = await openClient(server)
    expect(await next.call('initialize')).toMatchObject({ result: { server: 'test' } })
    // Exactly maxPayload is accepted (a parse error, not a close).
    next.send(`"${'x'.repeat(1022)}"`)
    expect(await next.next()).toMatchObject({ error: { code: -32600 } })
  })

  it('binary frames close with 1003', async () => {
    const { server } = await useAppServer()
    const client = await initialized(await openClient(server))
    client.ws.send(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"echo"}'))
    expect((await client.closed).code).toBe(1003)
  })

  it('DOS-07: deep nesting, a 100,000-entry batch and a 50 MB string: errors, no crash, little lag', async () => {
    const { server } = await useAppServer()
    const client = await initialized(await openClient(server))
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    client.send(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    client.send(
      `{"jsonrpc":"2.0","id":1,"method":"echo","params":${'['.repeat(70)}${']'.repeat(70)}}`,
    )
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    client.send(`[${Array.from({ length: 100_000 }, () => '1').join(',')}]`)
    expect(await client.next()).toMatchObject({ id: null, error: { code: -32600 } })
    // Positive control: 60 levels are fine.
    expect(
      await client.call('echo', JSON.parse(`[${'['.repeat(59)}${']'.repeat(59)}]`), 2),
    ).toMatchObject({ id: 2 })
    delay.disable()
    expect(delay.max / 1e6).toBeLessThan(100)
    client.send(`"${'x'.repeat(50 * 1024 * 1024)}"`)
    expect((await client.closed).code).toBe(1009)
    const next = await openClient(server)
    expect(await next.call('initialize')).toMatchObject({ result: { server: 'test' } })
  })
})

describe('close()', () => {
  it('closes clients with 1001, aborts in-flight handlers, and notify after close does not throw', async () => {
    const { server, spy } = await useAppServer()
    const client = await initialized(await openClient(server))
    client.send({ jsonrpc: '2.0', id: 1, method: 'wait' })
    while (!spy.calls.includes('wait')) await new Promise((resolve) => setTimeout(resolve, 5))
    const signal = spy.signals.at(-1)
    expect(signal?.aborted).toBe(false)
    expect(server.connections()).toBe(1)
    await server.close()
    await server.closed
    expect((await client.closed).code).toBe(1001)
    expect(signal?.aborted).toBe(true)
    expect(server.connections()).toBe(0)
    expect(() => {
      server.broadcast('late', {})
    }).not.toThrow()
  })

  it('context.notify after the connection closed resolves without sending', async () => {
    let captured: { notify(method: string, params: unknown): Promise<void> } | undefined
    const methods = new Map([
      ['initialize', { requiresInitialize: false, handle: () => Promise.resolve({}) }],
      [
        'grab',
        {
          handle: (
            _params: unknown,
            context: { notify(method: string, params: unknown): Promise<void> },
          ) => {
            captured = context
            return Promise.resolve('ok')
          },
        },
      ],
    ])
    const { server } = await useAppServer({ methods })
    const client = await openClient(server)
    await client.call('initialize')
    await client.call('grab')
    client.ws.close()
    await client.closed
    await new Promise((resolve) => setTimeout(resolve, 50))
    await expect(captured?.notify('late', { x: 1 })).resolves.toBeUndefined()
  })
})
