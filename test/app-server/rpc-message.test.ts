/** The frame reader and request validation of the app-server (pure functions, no socket). */
import { describe, expect, it } from 'vitest'
import {
  exceedsNestingDepth,
  quoteMethodName,
  readFrame,
  validateEntry,
} from '../../src/app-server/rpc/json-rpc-message.js'

describe('exceedsNestingDepth', () => {
  it('counts brackets outside strings only, without recursion', () => {
    expect(exceedsNestingDepth('[[[1]]]', 2)).toBe(true)
    expect(exceedsNestingDepth('[[[1]]]', 3)).toBe(false)
    expect(exceedsNestingDepth('["[[[[", "\\"[[[["]', 1)).toBe(false)
    expect(exceedsNestingDepth('['.repeat(1_000_000), 64)).toBe(true)
  })
})

describe('readFrame', () => {
  it('refuses bad JSON, scalars, empty and oversized batches; accepts objects and batches', () => {
    expect(readFrame('{')).toMatchObject({
      kind: 'refused',
      response: { id: null, error: { code: -32700 } },
    })
    expect(readFrame('"x"')).toMatchObject({
      kind: 'refused',
      response: { error: { code: -32600 } },
    })
    expect(readFrame('[]')).toMatchObject({
      kind: 'refused',
      response: { error: { code: -32600 } },
    })
    expect(readFrame(JSON.stringify(new Array(101).fill(1)))).toMatchObject({ kind: 'refused' })
    expect(readFrame(JSON.stringify(new Array(100).fill(1)))).toMatchObject({ kind: 'batch' })
    expect(readFrame('{"a":1}')).toEqual({ kind: 'single', entry: { a: 1 } })
  })
})

describe('validateEntry', () => {
  it('checks jsonrpc, id, method and params', () => {
    expect(validateEntry({ jsonrpc: '2.0', id: 'a', method: 'm', params: [] })).toEqual({
      kind: 'call',
      id: 'a',
      method: 'm',
      params: [],
    })
    expect(validateEntry({ jsonrpc: '2.0', method: 'm' })).toEqual({
      kind: 'call',
      id: undefined,
      method: 'm',
      params: undefined,
    })
    expect(validateEntry({ jsonrpc: '2.0', id: {}, method: 'm' })).toMatchObject({
      kind: 'invalid',
      response: { id: null },
    })
    expect(validateEntry({ jsonrpc: '2.0', id: 1, method: 'm', params: null })).toMatchObject({
      response: { id: 1, error: { code: -32602 } },
    })
    expect(validateEntry({ jsonrpc: '2.0', method: 'm', params: 1 })).toEqual({ kind: 'ignored' })
    expect(validateEntry([1])).toMatchObject({ kind: 'invalid' })
  })

  it('quotes method names escaped and truncated', () => {
    expect(quoteMethodName('a\u0000b')).toBe('a\\u0000b')
    expect(quoteMethodName('x'.repeat(300))).toHaveLength(101)
  })
})
