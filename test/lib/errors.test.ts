import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  BROKER_ERROR_CODES,
  BrokerError,
  type BrokerErrorCode,
  GENERIC_INTERNAL_MESSAGE,
  httpStatusFor,
  isBrokerError,
  toPublicError,
} from '../../src/lib/errors.js'

const canaryJwt = () =>
  `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.${randomBytes(32).toString('base64url')}`

describe('BrokerError', () => {
  it('has code, name, message and a cause property even without a cause', () => {
    const error = new BrokerError('ERR_NEEDS_LOGIN', 'Account a@example.com needs to sign in')
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe('ERR_NEEDS_LOGIN')
    expect(error.name).toBe('BrokerError')
    expect(error.message).toBe('Account a@example.com needs to sign in')
    expect(Object.hasOwn(error, 'cause')).toBe(true)
    expect(error.cause).toBeUndefined()
    expect(error.hint).toBeUndefined()
    expect(error.stack).toContain('BrokerError: Account a@example.com needs to sign in')
  })

  it('keeps the cause as a non-enumerable own property', () => {
    const cause = new Error('socket hang up')
    const error = new BrokerError('ERR_REFRESH_TRANSIENT', 'refresh failed', { cause })
    expect(error.cause).toBe(cause)
    expect(Object.getOwnPropertyDescriptor(error, 'cause')?.enumerable).toBe(false)
  })

  it('takes its name from the constructing subclass', () => {
    class LockTimeoutError extends BrokerError {}
    const error = new LockTimeoutError('ERR_LOCK_TIMEOUT', 'lock busy')
    expect(error.name).toBe('LockTimeoutError')
    expect(isBrokerError(error, 'ERR_LOCK_TIMEOUT')).toBe(true)
  })

  it('redacts tokens in the message, the stack and the hint', () => {
    const jwt = canaryJwt()
    const error = new BrokerError('ERR_UPSTREAM_UNAUTHORIZED', `upstream rejected ${jwt}`, {
      hint: `do not paste Bearer ${jwt}`,
    })
    expect(error.message).toBe('upstream rejected [REDACTED]')
    expect(error.stack).not.toContain(jwt)
    expect(error.hint).toBe('do not paste Bearer [REDACTED]')
    expect(inspect(error)).not.toContain(jwt)
  })

  it('serializes to JSON without the cause', () => {
    const secretCause = new Error(`body: ${canaryJwt()}`)
    const error = new BrokerError('ERR_UPSTREAM_BAD_RESPONSE', 'bad response', {
      cause: secretCause,
      hint: 'retry later',
    })
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'BrokerError',
      code: 'ERR_UPSTREAM_BAD_RESPONSE',
      message: 'bad response',
      hint: 'retry later',
    })
  })
})

describe('isBrokerError', () => {
  it('narrows by class and by code', () => {
    const error: unknown = new BrokerError('ERR_REFRESH_REUSED', 'reused')
    expect(isBrokerError(error)).toBe(true)
    expect(isBrokerError(error, 'ERR_REFRESH_REUSED')).toBe(true)
    expect(isBrokerError(error, 'ERR_REFRESH_EXPIRED')).toBe(false)
    if (isBrokerError(error, 'ERR_REFRESH_REUSED')) {
      const code: 'ERR_REFRESH_REUSED' = error.code
      expect(code).toBe('ERR_REFRESH_REUSED')
    }
  })

  it('rejects look-alikes without the brand', () => {
    expect(isBrokerError(new Error('x'))).toBe(false)
    expect(isBrokerError({ code: 'ERR_INTERNAL', message: 'x' })).toBe(false)
    expect(isBrokerError(null)).toBe(false)
    expect(isBrokerError('ERR_INTERNAL')).toBe(false)
  })
})

describe('toPublicError', () => {
  it('keeps the code, message and hint of a BrokerError', () => {
    const error = new BrokerError('ERR_POOL_EXHAUSTED', '2 accounts rate-limited until 14:05', {
      hint: 'Wait, or add an account with codex-broker login.',
    })
    expect(toPublicError(error)).toEqual({
      code: 'ERR_POOL_EXHAUSTED',
      message: '2 accounts rate-limited until 14:05',
      hint: 'Wait, or add an account with codex-broker login.',
    })
  })

  it('hides the message of anything else behind ERR_INTERNAL', () => {
    const leaky = new Error(`upstream echoed authorization: ${canaryJwt()} and internal details`)
    for (const thrown of [leaky, 'a string', { message: 'object' }, undefined]) {
      const body = toPublicError(thrown)
      expect(body).toEqual({ code: 'ERR_INTERNAL', message: GENERIC_INTERNAL_MESSAGE })
    }
  })
})

describe('httpStatusFor', () => {
  it('maps every code to an HTTP error status', () => {
    for (const code of BROKER_ERROR_CODES) {
      const status = httpStatusFor(code)
      expect(status, code).toBeGreaterThanOrEqual(400)
      expect(status, code).toBeLessThan(600)
    }
  })

  it('maps the gate and upstream codes as the surfaces expect', () => {
    const expected: Partial<Record<BrokerErrorCode, number>> = {
      ERR_UNAUTHORIZED: 401,
      ERR_FORBIDDEN: 403,
      ERR_NOT_FOUND: 404,
      ERR_METHOD_NOT_ALLOWED: 405,
      ERR_PAYLOAD_TOO_LARGE: 413,
      ERR_UNSUPPORTED_MEDIA_TYPE: 415,
      ERR_UPSTREAM_RATE_LIMITED: 429,
      ERR_POOL_EXHAUSTED: 503,
      ERR_INTERNAL: 500,
      ERR_INVALID_REQUEST: 400,
    }
    for (const [code, status] of Object.entries(expected)) {
      expect(httpStatusFor(code as BrokerErrorCode), code).toBe(status)
    }
    expect(new BrokerError('ERR_NEEDS_LOGIN', 'x').httpStatus).toBe(401)
  })
})
