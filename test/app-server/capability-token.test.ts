import { chmod, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  capabilityFromSha256,
  generateCapabilityToken,
  loadCapabilityTokenFile,
} from '../../src/app-server/index.js'
import { type BrokerErrorCode, isBrokerError } from '../../src/lib/errors.js'
import { sha256Hex } from '../../src/lib/safe-equal.js'
import { makeTempDir } from '../lib/temp-dir.js'

const TOKEN = 'capability-token-0123456789-abcdefghijklmnop'

async function refusal(promise: Promise<unknown>, code: BrokerErrorCode): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isBrokerError(error, code), String(error)).toBe(true)
  return String(error)
}

async function tokenFile(content: string | Buffer, mode = 0o600): Promise<string> {
  const file = join(await makeTempDir(), 'ws-token')
  await writeFile(file, content, { mode: 0o600 })
  await chmod(file, mode)
  return file
}

describe.runIf(process.platform !== 'win32')('loadCapabilityTokenFile', () => {
  it('reads a 0600 (and a 0400) file, trimmed (positive control)', async () => {
    const verifier = await loadCapabilityTokenFile(await tokenFile(`  ${TOKEN}\n`))
    expect(verifier.verify(TOKEN)).toBe(true)
    expect((await loadCapabilityTokenFile(await tokenFile(TOKEN, 0o400))).verify(TOKEN)).toBe(true)
  })

  it('refuses 0640 and 0644 files, naming chmod 600', async () => {
    for (const mode of [0o640, 0o644]) {
      const file = await tokenFile(TOKEN, mode)
      const message = await refusal(loadCapabilityTokenFile(file), 'ERR_UNSAFE_FILE')
      expect(message).toContain(`chmod 600 ${file}`)
    }
  })

  it('refuses a symbolic link, even to a 0600 file', async () => {
    const target = await tokenFile(TOKEN)
    const link = join(await makeTempDir(), 'link')
    await symlink(target, link)
    expect(await refusal(loadCapabilityTokenFile(link), 'ERR_UNSAFE_FILE')).toMatch(/symbolic link/)
  })

  it('refuses an empty or blank file, saying how to write a token', async () => {
    for (const content of ['', ' \n\t\n']) {
      const message = await refusal(
        loadCapabilityTokenFile(await tokenFile(content)),
        'ERR_INVALID_CONFIG',
      )
      expect(message).toMatch(/is empty\. Write a token into it with: \(umask 077 && openssl rand/)
    }
  })

  it('refuses a 65 KiB file; 64 KiB is accepted', async () => {
    const big = await tokenFile('x'.repeat(65 * 1024))
    expect(await refusal(loadCapabilityTokenFile(big), 'ERR_UNSAFE_FILE')).toMatch(
      /65536-byte limit/,
    )
    const limit = await loadCapabilityTokenFile(await tokenFile('x'.repeat(64 * 1024)))
    expect(limit.verify('x'.repeat(64 * 1024))).toBe(true)
  })

  it('refuses a missing file', async () => {
    const missing = join(await makeTempDir(), 'absent')
    await refusal(loadCapabilityTokenFile(missing), 'ERR_NOT_FOUND')
  })
})

describe('CapabilityVerifier', () => {
  it('accepts the right token and refuses a wrong, truncated, extended or same-length one', () => {
    const verifier = capabilityFromSha256(sha256Hex(TOKEN))
    expect(verifier.verify(TOKEN)).toBe(true)
    expect(verifier.verify('wrong')).toBe(false)
    expect(verifier.verify(TOKEN.slice(0, -1))).toBe(false)
    expect(verifier.verify(`${TOKEN}x`)).toBe(false)
    expect(verifier.verify(`${TOKEN.slice(0, -1)}Q`)).toBe(false)
    expect(verifier.verify(TOKEN.toUpperCase())).toBe(false)
    expect(verifier.verify('')).toBe(false)
  })

  it.runIf(process.platform !== 'win32')(
    'never holds the token (nor shows its digest)',
    async () => {
      const fromFile = await loadCapabilityTokenFile(await tokenFile(`${TOKEN}\n`))
      for (const verifier of [fromFile, capabilityFromSha256(sha256Hex(TOKEN))]) {
        const printed = [
          JSON.stringify(verifier),
          inspect(verifier, { showHidden: true, depth: 10 }),
          String(Object.getOwnPropertyNames(verifier)),
        ]
        for (const text of printed) {
          expect(text).not.toContain(TOKEN)
          expect(text).not.toContain(sha256Hex(TOKEN))
        }
        expect(Object.isFrozen(verifier)).toBe(true)
      }
    },
  )
})

describe('capabilityFromSha256', () => {
  it('accepts 64 hex digits in either case', () => {
    const hex = sha256Hex(TOKEN)
    expect(capabilityFromSha256(hex.toUpperCase()).verify(TOKEN)).toBe(true)
    expect(capabilityFromSha256(hex).verify(TOKEN)).toBe(true)
  })

  it('refuses anything else without repeating the value', () => {
    const hex = sha256Hex(TOKEN)
    for (const bad of [
      hex.slice(1),
      `${hex}0`,
      `${hex.slice(1)}g`,
      ` ${hex.slice(1)}`,
      '',
      TOKEN,
    ]) {
      let error: unknown
      try {
        capabilityFromSha256(bad)
      } catch (caught) {
        error = caught
      }
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG'), bad).toBe(true)
      expect(String(error)).toContain(`got ${bad.length} characters`)
      if (bad !== '') expect(String(error)).not.toContain(bad)
    }
  })
})

describe('generateCapabilityToken', () => {
  it('makes 32 random bytes as base64url, redacted when printed', () => {
    const first = generateCapabilityToken()
    const second = generateCapabilityToken()
    expect(first.reveal()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(first.reveal(), 'base64url')).toHaveLength(32)
    expect(first.reveal()).not.toBe(second.reveal())
    expect(String(first)).toBe('[REDACTED]')
  })
})
