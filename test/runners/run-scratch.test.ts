/**
 * The pieces a Codex CLI run is made of, one by one: the scratch space (private modes, config.toml, removal also of
 * read-only leftovers), the config text (the backend URL is checked and quoted), the child's environment (the
 * refresh URL only for a non-default issuer), and the two redactions of the CLI's output.
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import { DEFAULT_ISSUER } from '../../src/oauth/index.js'
import { codexChildEnvironment } from '../../src/runners/child-environment.js'
import { codexConfigToml } from '../../src/runners/codex-config-toml.js'
import { redactStderr, scrubKnownSecrets } from '../../src/runners/redact-cli-output.js'
import { createTemporaryCodexHome, RUN_DIR_PREFIX } from '../../src/runners/temporary-codex-home.js'
import { makeTempDir } from '../lib/temp-dir.js'

const ACCESS = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA'
const REFRESH = 'rt_Q29kZXhCcm9rZXJUZXN0UmVmcmVzaFRva2VuMTIz'

describe('createTemporaryCodexHome', () => {
  it('makes a 0700 run dir with 0700 home/ and work/, and a config.toml for the backend', async () => {
    const parent = await makeTempDir()
    const scratch = await createTemporaryCodexHome({
      backendBase: 'http://127.0.0.1:9/backend-api',
      parent,
    })
    expect(scratch.root.startsWith(join(parent, RUN_DIR_PREFIX))).toBe(true)
    for (const dir of [scratch.root, scratch.home, scratch.workDir]) {
      expect((await stat(dir)).mode & 0o777).toBe(0o700)
    }
    expect(scratch.authFile).toBe(join(scratch.home, 'auth.json'))
    expect(existsSync(scratch.authFile)).toBe(false)
    expect(await readFile(scratch.configFile, 'utf8')).toContain(
      'base_url = "http://127.0.0.1:9/backend-api/codex"',
    )
    await scratch.remove()
    expect(existsSync(scratch.root)).toBe(false)
    await scratch.remove() // already gone: fine
  })

  it('removes what an agent left behind, read-only directories included', async () => {
    const parent = await makeTempDir()
    const scratch = await createTemporaryCodexHome({
      backendBase: 'https://chatgpt.com/backend-api',
      parent,
    })
    const locked = join(scratch.workDir, 'a', 'b')
    await mkdir(locked, { recursive: true })
    await writeFile(join(locked, 'file'), 'x')
    await chmod(locked, 0o500)
    await chmod(join(scratch.workDir, 'a'), 0o500)
    await scratch.remove()
    expect(existsSync(scratch.root)).toBe(false)
  })

  it('refuses a backend URL it would not send a token to, and leaves nothing behind', async () => {
    const parent = await makeTempDir()
    for (const backendBase of [
      'http://chatgpt.example/backend-api',
      'ftp://127.0.0.1/x',
      'not a url',
    ]) {
      const error: unknown = await createTemporaryCodexHome({ backendBase, parent }).catch(
        (caught: unknown) => caught,
      )
      expect(isBrokerError(error, 'ERR_INVALID_CONFIG')).toBe(true)
    }
    expect(await readdir(parent)).toEqual([])
  })
})

describe('codexConfigToml', () => {
  it('selects its own provider with the backend’s /codex base, ChatGPT auth, no websockets', () => {
    expect(codexConfigToml('https://chatgpt.com/backend-api/')).toBe(
      [
        '# Written by codex-broker for one run of the Codex CLI; deleted after it.',
        'model_provider = "codex-broker"',
        'chatgpt_base_url = "https://chatgpt.com/backend-api"',
        '',
        '[model_providers.codex-broker]',
        'name = "codex-broker"',
        'base_url = "https://chatgpt.com/backend-api/codex"',
        'wire_api = "responses"',
        'requires_openai_auth = true',
        'supports_websockets = false',
        '',
      ].join('\n'),
    )
  })

  it('a URL cannot break out of its TOML string', () => {
    const text = codexConfigToml('https://example.com/a"b\nmodel_provider = "evil"')
    expect(text.split('\n').filter((line) => line.startsWith('model_provider'))).toEqual([
      'model_provider = "codex-broker"',
    ])
  })
})

describe('codexChildEnvironment', () => {
  it('the default issuer: exactly PATH, HOME, CODEX_HOME and LANG', () => {
    expect(
      codexChildEnvironment({
        searchPath: '/usr/bin',
        home: '/tmp/h',
        lang: 'C.UTF-8',
        issuer: DEFAULT_ISSUER,
      }),
    ).toEqual({ PATH: '/usr/bin', HOME: '/tmp/h', CODEX_HOME: '/tmp/h', LANG: 'C.UTF-8' })
  })

  it('another issuer: the CLI is told where to refresh, so its refresh token never goes to auth.openai.com', () => {
    expect(
      codexChildEnvironment({
        searchPath: '/usr/bin',
        home: '/tmp/h',
        lang: 'C.UTF-8',
        issuer: 'http://127.0.0.1:8787/',
      }),
    ).toMatchObject({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: 'http://127.0.0.1:8787/oauth/token' })
  })
})

describe('redaction of the CLI’s output', () => {
  it('stderr: known tokens, their encodings and token patterns are redacted, control characters dropped', () => {
    const text = [
      `refresh ${REFRESH} b64 ${Buffer.from(REFRESH).toString('base64')}`,
      `Authorization: Bearer ${ACCESS}`,
      'a JWT eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.abcdefghijklmnop',
      'forged\r\u001b[2Kline',
    ].join('\n')
    const redacted = redactStderr(text, [REFRESH, ACCESS])
    expect(redacted).not.toContain(REFRESH)
    expect(redacted).not.toContain(Buffer.from(REFRESH).toString('base64'))
    expect(redacted).not.toContain(ACCESS)
    expect(redacted).not.toContain('eyJhbGciOiJIUzI1NiJ9')
    expect(redacted).not.toContain('\r')
    expect(redacted).not.toContain('\u001b')
    expect(redacted).toContain('forged[2Kline')
  })

  it('agent text: only the known tokens (and encodings) go; hashes and identifiers stay', () => {
    const text = [
      `token ${ACCESS}`,
      `url ${encodeURIComponent(REFRESH)} b64url ${Buffer.from(REFRESH).toString('base64url')}`,
      'commit 3f2b8a4e9c1d4e5f8a7b1c2d3e4f5a6b7c8d9e0f in src/some_long_identifier_name_v2.ts',
    ].join('\n')
    const scrubbed = scrubKnownSecrets(text, [ACCESS, REFRESH])
    expect(scrubbed).toBe(
      [
        'token [REDACTED]',
        'url [REDACTED] b64url [REDACTED]',
        'commit 3f2b8a4e9c1d4e5f8a7b1c2d3e4f5a6b7c8d9e0f in src/some_long_identifier_name_v2.ts',
      ].join('\n'),
    )
    // Positive control: the pattern redaction would have changed the commit hash.
    expect(redactStderr(text, [])).not.toContain('3f2b8a4e9c1d4e5f8a7b1c2d3e4f5a6b7c8d9e0f')
  })
})
