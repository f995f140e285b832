import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger, type LoggerOptions } from '../../src/lib/logger.js'
import { Secret } from '../../src/lib/secret.js'

/** A canary token whose random part must never appear in any output. */
function makeCanary(kind: string): { token: string; marker: string } {
  const marker = randomBytes(16).toString('hex')
  return { token: `CANARY_${kind}_${marker}`, marker }
}

function capture(options: Omit<LoggerOptions, 'destination'> = {}) {
  const lines: string[] = []
  const logger = createLogger({
    level: 'trace',
    ...options,
    destination: {
      write(line: string) {
        lines.push(line)
      },
    },
  })
  const output = () => lines.join('')
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { logger, output, records }
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, time, msg and fields', () => {
    const { logger, records, output } = capture({ name: 'proxy' })
    logger.info({ account: 'acct-1', attempt: 2 }, 'refreshed')
    const [record] = records()
    expect(record).toMatchObject({ level: 30, name: 'proxy', account: 'acct-1', attempt: 2 })
    expect(record?.msg).toBe('refreshed')
    expect(output().endsWith('\n')).toBe(true)
  })

  it('never prints a canary placed in a token field, headers, the message or an Error', () => {
    const at = makeCanary('AT')
    const rt = makeCanary('RT')
    const msg = makeCanary('MSG')
    const err = makeCanary('ERR')
    const { logger, output, records } = capture()
    logger.info(
      {
        token: at.token,
        request: { headers: { authorization: `Bearer ${rt.token}`, accept: 'text/event-stream' } },
        harmless: 'visible-value',
      },
      `refresh used ${msg.token}`,
    )
    logger.error(new Error(`upstream said ${err.token}`))
    logger.error({ err: new Error(`wrapped ${err.token}`) })
    logger.warn({ err: new Error(`with message ${err.token}`) }, 'explicit message')
    const text = output()
    for (const canary of [at, rt, msg, err]) expect(text).not.toContain(canary.marker)
    expect(text).toContain('visible-value')
    expect(text).toContain('text/event-stream')
    const [first, second] = records()
    expect(first?.msg).toBe('refresh used [REDACTED]')
    expect(second?.msg).toBe('upstream said [REDACTED]')
  })

  it('redacts interpolated arguments: strings, objects, errors and Secrets', () => {
    const canary = makeCanary('FMT')
    const { logger, output, records } = capture()
    logger.info('token %s here', canary.token)
    logger.info('object %j here', { refresh_token: canary.token, ok: true })
    logger.info('object %o here', { note: canary.token })
    logger.info('error %s here', new Error(`boom ${canary.token}`))
    logger.info('secret %s here', Secret.from(canary.token))
    const text = output()
    expect(text).not.toContain(canary.marker)
    expect(records()[1]?.msg).toBe('object {"refresh_token":"[REDACTED]","ok":true} here')
  })

  it('prints Secret fields as [REDACTED]', () => {
    const canary = makeCanary('SEC')
    const { logger, records, output } = capture()
    logger.info({ apiKeyRef: Secret.from(canary.token), nested: { s: Secret.from(canary.token) } })
    expect(output()).not.toContain(canary.marker)
    expect(records()[0]).toMatchObject({ apiKeyRef: '[REDACTED]', nested: { s: '[REDACTED]' } })
  })

  it('serializes errors with name, code, message and stack only', () => {
    const canary = makeCanary('BODY')
    const { logger, records, output } = capture()
    const error = Object.assign(new TypeError('fetch failed'), {
      code: 'UND_ERR_SOCKET',
      headers: { 'x-echo': canary.token },
      response: { body: `{"detail":"${canary.token}"}` },
    })
    logger.error({ err: error }, 'upstream failed')
    const err = records()[0]?.err as Record<string, unknown>
    expect(Object.keys(err).sort()).toEqual(['code', 'message', 'name', 'stack'])
    expect(err).toMatchObject({
      name: 'TypeError',
      code: 'UND_ERR_SOCKET',
      message: 'fetch failed',
    })
    expect(output()).not.toContain(canary.marker)
  })

  it('redacts child-logger bindings', () => {
    const canary = makeCanary('BIND')
    const { logger, output } = capture()
    logger.child({ authToken: canary.token, accountId: 'acct-9' }).info('child line')
    expect(output()).not.toContain(canary.marker)
    expect(output()).toContain('acct-9')
  })

  it('scrubs short known secrets that no pattern would catch', () => {
    const known = new Set<string>()
    const { logger, output } = capture({ knownSecrets: known })
    known.add('pw-short-1')
    logger.info('the password is pw-short-1, encoded cHctc2hvcnQtMQ==')
    expect(output()).not.toContain('pw-short-1')
    expect(output()).not.toContain('cHctc2hvcnQtMQ')
  })

  it('keeps counts under token-like keys and drops lines below the level', () => {
    const { logger, records } = capture({ level: 'info' })
    logger.debug({ hidden: true }, 'not written')
    logger.info({ usage: { input_tokens: 12, output_tokens: 34 } }, 'done')
    expect(records()).toHaveLength(1)
    expect(records()[0]).toMatchObject({ usage: { input_tokens: 12, output_tokens: 34 } })
  })

  it('accepts a Node writable stream as destination', async () => {
    const canary = makeCanary('STREAM')
    let text = ''
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString()
        callback()
      },
    })
    const logger = createLogger({ destination: stream })
    logger.info({ cookie: canary.token, path: '/v1/responses' }, 'request')
    await new Promise((resolve) => setImmediate(resolve))
    expect(text).toContain('/v1/responses')
    expect(text).not.toContain(canary.marker)
  })
})
