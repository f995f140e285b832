/**
 * FilePoolStateStore: the contract over one home shared by two store instances, then what is particular to the
 * file — its format and modes, the cache, damaged and unsafe files, the lock it writes under, and no lost update
 * between two real processes (children import the built package, `dist/`, which npm test builds first).
 */
import { spawn } from 'node:child_process'
import {
  chmod,
  lstat,
  mkdtemp,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  FilePoolStateStore,
  type FilePoolStateStoreOptions,
  QUOTA_FILE_NAME,
} from '../../src/accounts/file-pool-state-store.js'
import { createLogger, isBrokerError } from '../../src/lib/index.js'
import { acquireFileLock } from '../../src/store/file-lock.js'
import { makeTempDir } from '../lib/temp-dir.js'
import { describePoolStateStore, increment, sampleHealth } from './pool-state-store-contract.js'

const FLUSH_MS = 50

function capturingLogger() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'))
      callback()
    },
  })
  return { logger: createLogger({ level: 'warn', destination }), lines }
}

async function homeFor(): Promise<string> {
  return join(await makeTempDir(), 'home')
}

function storeOn(home: string, options: Partial<FilePoolStateStoreOptions> = {}) {
  return new FilePoolStateStore({ home, flushDelayMs: FLUSH_MS, cacheMs: 0, ...options })
}

describePoolStateStore('FilePoolStateStore', async (options = {}) => {
  const home = await homeFor()
  const extra = {
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.flushDelayMs === undefined ? {} : { flushDelayMs: options.flushDelayMs }),
  }
  return {
    store: storeOn(home, extra),
    sibling: () => storeOn(home, extra),
    flushDelayMs: options.flushDelayMs ?? FLUSH_MS,
  }
})

async function fileJson(home: string): Promise<unknown> {
  return JSON.parse(await readFile(join(home, QUOTA_FILE_NAME), 'utf8')) as unknown
}

function modeOf(stats: { mode: number }): number {
  return stats.mode & 0o777
}

describe('FilePoolStateStore', () => {
  it('writes {version: 1, pinned, accounts} to a 0600 quota.json in a 0700 home', async () => {
    const home = await homeFor()
    const store = storeOn(home)
    const record = sampleHealth('acc-1')
    await store.update('acc-1', () => record, { urgent: true })
    await store.setPinned('acc-1')
    expect(await fileJson(home)).toEqual({
      version: 1,
      pinned: 'acc-1',
      accounts: { 'acc-1': record },
    })
    expect(modeOf(await stat(join(home, QUOTA_FILE_NAME)))).toBe(0o600)
    expect(modeOf(await stat(home))).toBe(0o700)
    expect(store.lockPath).toBe(join(home, 'locks', 'quota.lock'))
    await store.close()
  })

  it('batches non-urgent updates into one write after the flush delay', async () => {
    const home = await homeFor()
    const store = storeOn(home, { flushDelayMs: 400 })
    await store.update('acc-1', increment, { urgent: true })
    const first = (await lstat(join(home, QUOTA_FILE_NAME))).ino
    for (let i = 0; i < 100; i++) await store.update('acc-1', increment)
    // Nothing written yet: same file, old value.
    expect((await lstat(join(home, QUOTA_FILE_NAME))).ino).toBe(first)
    expect(await fileJson(home)).toMatchObject({
      accounts: { 'acc-1': { consecutiveFailures: 1 } },
    })
    await delay(900)
    expect(await fileJson(home)).toMatchObject({
      accounts: { 'acc-1': { consecutiveFailures: 101 } },
    })
    await store.close()
  })

  it('answers reads from memory for cacheMs, then notices the file changed', async () => {
    const home = await homeFor()
    const reader = storeOn(home, { cacheMs: 600 })
    const writer = storeOn(home)
    expect((await reader.read()).size).toBe(0)
    await writer.update('acc-1', increment, { urgent: true })
    expect((await reader.read()).size).toBe(0)
    await delay(700)
    expect((await reader.read()).get('acc-1')?.consecutiveFailures).toBe(1)
    await Promise.all([reader.close(), writer.close()])
  })

  it('keeps showing its own queued changes after re-reading a file another store changed', async () => {
    const home = await homeFor()
    const mine = storeOn(home, { flushDelayMs: 10_000 })
    const theirs = storeOn(home)
    await mine.update('acc-mine', increment)
    await theirs.update('acc-theirs', increment, { urgent: true })
    const seen = await mine.read()
    expect(seen.get('acc-mine')?.consecutiveFailures).toBe(1)
    expect(seen.get('acc-theirs')?.consecutiveFailures).toBe(1)
    await Promise.all([mine.close(), theirs.close()])
    expect(await fileJson(home)).toMatchObject({
      accounts: {
        'acc-mine': { consecutiveFailures: 1 },
        'acc-theirs': { consecutiveFailures: 1 },
      },
    })
  })

  it('writes under locks/quota.lock: an urgent update waits for its holder', async () => {
    const home = await homeFor()
    const store = storeOn(home)
    await store.read()
    const lock = await acquireFileLock(join(home, 'locks', 'quota.lock'))
    let done = false
    const pending = store.update('acc-1', increment, { urgent: true }).then(() => {
      done = true
    })
    await delay(150)
    expect(done).toBe(false)
    await lock.release()
    await pending
    expect(done).toBe(true)
    await store.close()
  })

  describe('a damaged quota.json', () => {
    const cases: [string, string][] = [
      ['bad JSON', '{"version":1,"pinned":null,"accounts":{SECRET-LOOKING-CONTENT'],
      ['the wrong shape', '["SECRET-LOOKING-CONTENT"]'],
      ['a future version', '{"version":2,"pinned":"SECRET-LOOKING-CONTENT","accounts":{}}'],
    ]
    for (const [what, content] of cases) {
      it(`with ${what} reads as empty, warns without quoting it, and is replaced on the next write`, async () => {
        const home = await homeFor()
        const seed = storeOn(home)
        await seed.update('acc-1', increment, { urgent: true })
        await seed.close()
        const { logger, lines } = capturingLogger()
        const store = storeOn(home, { logger })
        // Positive control: the good file is read.
        expect((await store.read()).size).toBe(1)
        expect(lines).toHaveLength(0)
        await writeFile(join(home, QUOTA_FILE_NAME), content, { mode: 0o600 })
        expect((await store.read()).size).toBe(0)
        expect(await store.pinned()).toBeNull()
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain(QUOTA_FILE_NAME)
        expect(lines[0]).not.toContain('SECRET-LOOKING-CONTENT')
        // Still the same bad file: no second warning.
        await store.read()
        expect(lines).toHaveLength(1)
        await store.update('acc-2', increment, { urgent: true })
        expect(await fileJson(home)).toMatchObject({
          version: 1,
          accounts: { 'acc-2': { consecutiveFailures: 1 } },
        })
        expect(modeOf(await stat(join(home, QUOTA_FILE_NAME)))).toBe(0o600)
        await store.close()
      })
    }

    it('drops only the records with invalid numbers (no NaN or negative cooldown gets through)', async () => {
      const home = await homeFor()
      const good = sampleHealth('acc-good')
      const tampered = (overrides: Record<string, unknown>) => ({
        ...sampleHealth('x'),
        ...overrides,
      })
      const accounts = {
        'acc-good': good,
        'acc-negative': tampered({ accountId: 'acc-negative', cooldownUntil: -5 }),
        'acc-string': tampered({ accountId: 'acc-string', cooldownUntil: 'NaN' }),
        'acc-fraction': tampered({ accountId: 'acc-fraction', consecutiveFailures: 1.5 }),
        'acc-mismatch': tampered({ accountId: 'acc-other' }),
      }
      // 1e999 parses as Infinity: written raw, since JSON.stringify cannot produce it.
      const text = JSON.stringify({ version: 1, pinned: null, accounts }).replace(
        '"accounts":{',
        `"accounts":{"acc-infinite":${JSON.stringify(tampered({ accountId: 'acc-infinite' })).replace('"cooldownUntil":1800000100000', '"cooldownUntil":1e999')},`,
      )
      expect(text).toContain('1e999')
      await storeOn(home).read() // creates the home
      await writeFile(join(home, QUOTA_FILE_NAME), text, { mode: 0o600 })
      const { logger, lines } = capturingLogger()
      const store = storeOn(home, { logger })
      const records = await store.read()
      expect([...records.keys()]).toEqual(['acc-good'])
      expect(records.get('acc-good')).toEqual(good)
      expect(lines.join('')).toContain('5 invalid record')
      await store.close()
    })
  })

  describe('an unsafe quota.json is refused like a secret file', () => {
    it('a symbolic link: ERR_UNSAFE_FILE on read and write, and its target is untouched', async () => {
      const home = await homeFor()
      const seed = storeOn(home)
      await seed.update('acc-1', () => sampleHealth('acc-1'), { urgent: true })
      await seed.close()
      const target = join(await makeTempDir(), 'elsewhere.json')
      const content = await readFile(join(home, QUOTA_FILE_NAME), 'utf8')
      await writeFile(target, content, { mode: 0o600 })
      // Positive control: the same bytes as a real file are read.
      expect((await storeOn(home).read()).get('acc-1')).toEqual(sampleHealth('acc-1'))
      await rm(join(home, QUOTA_FILE_NAME))
      await symlink(target, join(home, QUOTA_FILE_NAME))
      const store = storeOn(home)
      const readError = await store.read().catch((error: unknown) => error)
      expect(isBrokerError(readError, 'ERR_UNSAFE_FILE'), String(readError)).toBe(true)
      const writeError = await store
        .update('acc-1', increment, { urgent: true })
        .catch((error: unknown) => error)
      expect(isBrokerError(writeError, 'ERR_UNSAFE_FILE'), String(writeError)).toBe(true)
      expect(await readFile(target, 'utf8')).toBe(content)
      expect((await lstat(join(home, QUOTA_FILE_NAME))).isSymbolicLink()).toBe(true)
    })

    it('a file others can read: ERR_UNSAFE_FILE until it is 0600 again', async () => {
      const home = await homeFor()
      const seed = storeOn(home)
      await seed.update('acc-1', increment, { urgent: true })
      await seed.close()
      const path = join(home, QUOTA_FILE_NAME)
      await chmod(path, 0o644)
      const error = await storeOn(home)
        .read()
        .catch((caught: unknown) => caught)
      expect(isBrokerError(error, 'ERR_UNSAFE_FILE'), String(error)).toBe(true)
      await chmod(path, 0o600)
      expect((await storeOn(home).read()).get('acc-1')?.consecutiveFailures).toBe(1)
    })
  })

  it('refuses a change that yields NaN or a negative time, and writes nothing', async () => {
    const home = await homeFor()
    const store = storeOn(home)
    await store.update('acc-1', increment, { urgent: true })
    const before = await readFile(join(home, QUOTA_FILE_NAME), 'utf8')
    for (const bad of [{ cooldownUntil: Number.NaN }, { consecutiveFailures: -1 }]) {
      const error = await store
        .update('acc-1', (h) => ({ ...h, ...bad }), { urgent: true })
        .catch((caught: unknown) => caught)
      expect(isBrokerError(error, 'ERR_INTERNAL'), String(error)).toBe(true)
      await expect(store.update('acc-1', (h) => ({ ...h, ...bad }))).rejects.toThrow(/invalid/)
    }
    await store.close()
    expect(await readFile(join(home, QUOTA_FILE_NAME), 'utf8')).toBe(before)
  })
})

describe('FilePoolStateStore across processes', () => {
  let workerPath = ''

  beforeAll(async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), 'codex-broker-pool-worker-')))
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url))
    workerPath = join(dir, 'worker.mjs')
    await writeFile(
      workerPath,
      `import { FilePoolStateStore } from ${JSON.stringify(pathToFileURL(dist).href)}
const [home, rounds] = process.argv.slice(2)
const store = new FilePoolStateStore({ home })
for (let i = 0; i < Number(rounds); i++) {
  await store.update('acc-shared', (h) => ({ ...h, consecutiveFailures: h.consecutiveFailures + 1 }), { urgent: true })
}
await store.close()
`,
    )
    return async () => {
      await rm(dir, { recursive: true, force: true })
    }
  })

  function run(home: string, rounds: number): Promise<number | null> {
    const child = spawn(process.execPath, [workerPath, home, String(rounds)], { stdio: 'inherit' })
    return new Promise((resolve) => child.on('exit', resolve))
  }

  it('two processes × 50 urgent increments of one account: exactly 100', async () => {
    const home = await homeFor()
    expect(await Promise.all([run(home, 50), run(home, 50)])).toEqual([0, 0])
    const store = storeOn(home)
    expect((await store.read()).get('acc-shared')?.consecutiveFailures).toBe(100)
    expect(modeOf(await stat(join(home, QUOTA_FILE_NAME)))).toBe(0o600)
  })
})
