/**
 * PKCE and state (SECURITY.md C1.4, C1.5, CB-02): 86-character verifiers from the unreserved alphabet, never
 * repeated, S256 challenges of 43 characters, 43-character states.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../src/lib/index.js'
import {
  CODE_CHALLENGE_METHOD,
  codeChallengeS256,
  createCodeVerifier,
  createPkcePair,
  createState,
} from '../../src/oauth/index.js'

const UNRESERVED = /^[A-Za-z0-9\-._~]+$/
const BASE64URL = /^[A-Za-z0-9_-]+$/

describe('CB-02: code verifiers', () => {
  it('10,000 verifiers: 86 characters (within 43–128), unreserved charset, no duplicates', () => {
    const verifiers = Array.from({ length: 10_000 }, () => createCodeVerifier().reveal())
    const lengths = new Set(verifiers.map((verifier) => verifier.length))
    expect([...lengths]).toEqual([86])
    expect(verifiers.every((verifier) => verifier.length >= 43 && verifier.length <= 128)).toBe(
      true,
    )
    expect(verifiers.filter((verifier) => !UNRESERVED.test(verifier))).toEqual([])
    expect(new Set(verifiers).size).toBe(10_000)
  })

  it('the verifier is a Secret that does not print', () => {
    const verifier = createCodeVerifier()
    expect(Secret.isSecret(verifier)).toBe(true)
    expect(String(verifier)).toBe('[REDACTED]')
    expect(JSON.stringify({ verifier })).not.toContain(verifier.reveal())
  })

  it('uses the whole alphabet over many draws (a property check on the source)', () => {
    const characters = new Set<string>()
    for (let index = 0; index < 200; index += 1) {
      for (const character of createCodeVerifier().reveal()) characters.add(character)
    }
    expect(characters.size).toBe(64)
  })
})

describe('CB-01: the S256 challenge', () => {
  it('matches RFC 7636 Appendix B', () => {
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    )
  })

  it('is base64url(SHA-256(verifier)), 43 characters, method S256', () => {
    const pair = createPkcePair()
    const expected = createHash('sha256').update(pair.codeVerifier.reveal()).digest('base64url')
    expect(pair.codeChallenge).toBe(expected)
    expect(pair.codeChallenge).toHaveLength(43)
    expect(pair.codeChallenge).toMatch(BASE64URL)
    expect(pair.codeChallengeMethod).toBe('S256')
    expect(CODE_CHALLENGE_METHOD).toBe('S256')
    // never the plain method: the challenge differs from the verifier
    expect(pair.codeChallenge).not.toBe(pair.codeVerifier.reveal())
  })
})

describe('state', () => {
  it('is 43 base64url characters and fresh every time', () => {
    const states = new Set<string>()
    for (let index = 0; index < 1_000; index += 1) {
      const state = createState()
      expect(state).toHaveLength(43)
      expect(state).toMatch(BASE64URL)
      states.add(state)
    }
    expect(states.size).toBe(1_000)
  })
})
