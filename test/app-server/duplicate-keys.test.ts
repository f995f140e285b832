import { describe, expect, it } from 'vitest'
import { hasDuplicateKeys } from '../../src/app-server/index.js'

describe('hasDuplicateKeys', () => {
  it('accepts objects whose names are unique in each object (positive control)', () => {
    expect(hasDuplicateKeys('{"alg":"HS256","typ":"JWT"}')).toBe(false)
    expect(hasDuplicateKeys('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"\\"a\\":"}')).toBe(false)
    expect(hasDuplicateKeys('["a","a"]')).toBe(false)
  })

  it('finds repeated names at the top level, nested, inside arrays and after unescaping', () => {
    expect(hasDuplicateKeys('{"alg":"none","alg":"HS256"}')).toBe(true)
    expect(hasDuplicateKeys('{"x":{"aud":"a", "aud":"b"}}')).toBe(true)
    expect(hasDuplicateKeys('[{"a":1,"b":{"c":[1,2]},"a":2}]')).toBe(true)
    expect(hasDuplicateKeys('{"alg":"HS256","a\\u006cg":"none"}')).toBe(true)
    expect(hasDuplicateKeys('{ "k\\"" : 1 , "k\\"" : 2 }')).toBe(true)
  })
})
