import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmod,
  link,
  lstat,
  mkdir,
  readFile,
  readdir,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isBrokerError } from '../../src/lib/index.js'
import {
  EncryptionKey,
  FileCredentialStore,
  accountLockFileName,
  decodeAccountsFile,
} from '../../src/store/index.js'
import { describeCredentialStore } from './credential-store-contract.js'
import {
  apiKeyAccount,
  chatgptAccount,
  hashOf,
  makeTempDir,
  modeOf,
  plain,
  rejectionOf,
  secretsOf,
} from './fixtures.js'

describeCredentialStore('FileCredentialStore', async () => {
  const home = join(await makeTempDir(), 'home')
  return {
    store: new FileCredentialStore({ home }),
    sibling: () => new FileCredentialStore({ home }),
  }
})

describeCredentialStore('FileCredentialStore (encrypted)', async () => {
  const home = join(await makeTempDir(), 'home')
  const encryption = EncryptionKey.generate()
  return {
    store: new FileCredentialStore({ home, encryption }),
    sibling: () => new FileCredentialStore({ home, encryption }),
  }
})

async function newHome(): Promise<string> {
  return join(await makeTempDir(), 'home')
}

function expectCode(error: unknown, code: Parameters<typeof isBrokerError>[1]): void {
  expect(isBrokerError(error, code), String(error)).toBe(true)
}

describe('FileCredentialStore: the home and accounts.json', () => {
  it('creates the home 0700 and its locks folder on first use (FS-01: accounts.json created 0600)', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.put(chatgptAccount())
    expect(await modeOf(home)).toBe(0o700)
    expect(await modeOf(join(home, 'locks'))).toBe(0o700)
    expect(await modeOf(store.path)).toBe(0o600)
  })

  it('refuses a group/other-writable home with the chmod fix, and works once it is fixed (FS-07)', async () => {
    const home = await newHome()
    await mkdir(home, { mode: 0o700 })
    await chmod(home, 0o777)
    const store = new FileCredentialStore({ home })
    const error = await rejectionOf(store.list())
    expectCode(error, 'ERR_UNSAFE_HOME')
    expect((error as Error).message).toContain(`chmod 700 ${home}`)
    await chmod(home, 0o700)
    expect(await store.list()).toEqual([])
  })

  it('keeps accounts.json 0600 after every kind of write, and refuses a 0644 one with the fix (FS-02)', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const account = chatgptAccount()
    await store.put(account)
    expect(await modeOf(store.path)).toBe(0o600)
    await store.update(account.id, (current) => ({ ...current, label: 'x' }))
    expect(await modeOf(store.path)).toBe(0o600)
    await store.put(apiKeyAccount())
    expect(await modeOf(store.path)).toBe(0o600)
    await store.remove(account.id)
    expect(await modeOf(store.path)).toBe(0o600)
    expect(await modeOf(store.backupPath)).toBe(0o600)

    await chmod(store.path, 0o644)
    const refused = await rejectionOf(store.list())
    expectCode(refused, 'ERR_UNSAFE_FILE')
    expect((refused as Error).message).toContain(`chmod 600 ${store.path}`)
  })

  it('keeps the previous good version as accounts.json.bak', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const first = chatgptAccount()
    await store.put(first)
    await expect(lstat(store.backupPath)).rejects.toThrow()
    const afterFirst = await readFile(store.path, 'utf8')
    await store.put(apiKeyAccount())
    expect(await readFile(store.backupPath, 'utf8')).toBe(afterFirst)
    const afterSecond = await readFile(store.path, 'utf8')
    await store.update(first.id, (current) => ({ ...current, label: 'third' }))
    expect(await readFile(store.backupPath, 'utf8')).toBe(afterSecond)
    const backup = decodeAccountsFile(await readFile(store.backupPath, 'utf8'), { path: 'bak' })
    expect(backup.map((account) => account.id)).toHaveLength(2)
  })

  it('reports a corrupt file on read and write and never overwrites it', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const account = chatgptAccount()
    await store.put(account)
    await store.put(apiKeyAccount())
    const backup = await hashOf(store.backupPath)
    await writeFile(store.path, '{"version": 1, "accounts": [{"id": "half', { mode: 0o600 })
    const before = await hashOf(store.path)

    const onRead = await rejectionOf(store.list())
    expectCode(onRead, 'ERR_CORRUPT_STORE')
    const message = (onRead as Error).message
    expect(message).toContain(store.path)
    expect(message).toContain('not valid JSON')
    expect(message).toContain('Nothing was overwritten')
    expect(message).toContain(`cp ${store.path}.bak ${store.path}`)
    expect(message).toContain('sign in again')

    expectCode(await rejectionOf(store.get(account.id)), 'ERR_CORRUPT_STORE')
    expectCode(await rejectionOf(store.put(chatgptAccount())), 'ERR_CORRUPT_STORE')
    expectCode(await rejectionOf(store.update(account.id, (a) => a)), 'ERR_CORRUPT_STORE')
    expectCode(await rejectionOf(store.remove(account.id)), 'ERR_CORRUPT_STORE')
    expect(await hashOf(store.path)).toBe(before)
    expect(await hashOf(store.backupPath)).toBe(backup)
  })

  it('names the field of a structurally wrong file', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    await writeFile(
      store.path,
      JSON.stringify({
        version: 1,
        accounts: [{ id: 'a', status: 'active', addedAt: 'yesterday' }],
      }),
      { mode: 0o600 },
    )
    const error = await rejectionOf(store.list())
    expectCode(error, 'ERR_CORRUPT_STORE')
    expect((error as Error).message).toContain('accounts[0].addedAt')
  })

  it('refuses a file from a newer codex-broker and leaves it alone', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    await writeFile(store.path, JSON.stringify({ version: 2, accounts: [], future: true }), {
      mode: 0o600,
    })
    const before = await hashOf(store.path)
    const error = await rejectionOf(store.put(chatgptAccount()))
    expectCode(error, 'ERR_CORRUPT_STORE')
    expect((error as Error).message).toContain('Upgrade codex-broker')
    expect((error as Error).message).toContain('format version 2')
    expect(await hashOf(store.path)).toBe(before)
  })

  it('re-reads the file on every call (another process may have written it)', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const account = chatgptAccount()
    await store.put(account)
    expect(await store.get(account.id)).not.toBeNull()
    const other = new FileCredentialStore({ home })
    await other.update(account.id, (current) => ({ ...current, status: 'needs_login' }))
    expect((await store.get(account.id))?.status).toBe('needs_login')
  })

  it('cleans a stale temp file left by a crash (FS-09)', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    const stale = join(home, '.accounts.json.0123456789abcdef.tmp')
    await writeFile(stale, 'partial', { mode: 0o600 })
    const old = new Date(Date.now() - 3_600_000)
    await utimes(stale, old, old)
    await store.put(chatgptAccount())
    expect(await readdir(home)).not.toContain('.accounts.json.0123456789abcdef.tmp')
  })
})

describe('FileCredentialStore: links and special files (SECURITY.md FS)', () => {
  it('FS-03: accounts.json symlinked to a victim is refused and the victim is unchanged', async () => {
    const dir = await makeTempDir()
    const home = join(dir, 'home')
    const store = new FileCredentialStore({ home })
    await store.list()
    const victim = join(dir, 'victim.txt')
    await writeFile(victim, 'precious\n', { mode: 0o600 })
    const before = await hashOf(victim)
    await symlink(victim, store.path)
    expectCode(await rejectionOf(store.put(chatgptAccount())), 'ERR_UNSAFE_FILE')
    expectCode(await rejectionOf(store.list()), 'ERR_UNSAFE_FILE')
    expect(await hashOf(victim)).toBe(before)
    expect((await lstat(store.path)).isSymbolicLink()).toBe(true)
  })

  it('FS-05: accounts.json hard-linked to a victim: the write replaces the entry, the victim keeps its bytes', async () => {
    const dir = await makeTempDir()
    const home = join(dir, 'home')
    const store = new FileCredentialStore({ home })
    const first = chatgptAccount()
    await store.put(first)
    const victim = join(dir, 'victim.json')
    await link(store.path, victim)
    const before = await hashOf(victim)
    await store.put(apiKeyAccount())
    expect(await hashOf(victim)).toBe(before)
    expect((await stat(store.path)).ino).not.toBe((await stat(victim)).ino)
    expect(await store.list()).toHaveLength(2)
  })

  it('FS-06: accounts.json being a directory is an error and the directory survives', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    await mkdir(store.path)
    await writeFile(join(store.path, 'keep'), 'x')
    expectCode(await rejectionOf(store.put(chatgptAccount())), 'ERR_UNSAFE_FILE')
    expect(await readdir(store.path)).toEqual(['keep'])
  })

  it('FS-04: accounts.json being a FIFO is refused without hanging', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    execFileSync('mkfifo', [store.path])
    const started = Date.now()
    expectCode(await rejectionOf(store.list()), 'ERR_UNSAFE_FILE')
    expectCode(await rejectionOf(store.put(chatgptAccount())), 'ERR_UNSAFE_FILE')
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('FS-12: a reader polling every 2 ms during 200 writes never sees a partial file', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const accounts = Array.from({ length: 4 }, () => chatgptAccount({ label: '0' }))
    for (const account of accounts) await store.put(account)
    let reads = 0
    let bad = 0
    const state = { running: true }
    const reader = (async () => {
      while (state.running) {
        try {
          const text = await readFile(store.path, 'utf8')
          decodeAccountsFile(text, { path: store.path })
          reads += 1
        } catch {
          bad += 1
        }
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    for (let i = 0; i < 200; i++) {
      const account = accounts[i % accounts.length]
      if (account === undefined) throw new Error('unreachable')
      await store.update(account.id, (current) => ({
        ...current,
        label: String(Number(current.label) + 1),
      }))
    }
    state.running = false
    await reader
    expect(bad).toBe(0)
    expect(reads).toBeGreaterThan(10)
    expect((await store.list()).map((account) => account.label)).toEqual(['50', '50', '50', '50'])
    expect(await modeOf(store.path)).toBe(0o600)
  })
})

describe('FileCredentialStore: encryption at rest', () => {
  it('encrypts each account’s credentials and leaves ids, emails and plans readable', async () => {
    const home = await newHome()
    const encryption = EncryptionKey.generate()
    const store = new FileCredentialStore({ home, encryption })
    const accounts = [chatgptAccount(), apiKeyAccount()]
    for (const account of accounts) await store.put(account)
    const text = await readFile(store.path, 'utf8')
    for (const secret of accounts.flatMap(secretsOf)) expect(text).not.toContain(secret)
    expect(text).toContain(accounts[0]?.email ?? 'missing')
    expect(text).toContain('"alg": "A256GCM"')
    const reopened = new FileCredentialStore({ home, encryption })
    expect((await reopened.list()).map(plain)).toEqual(accounts.map(plain))
    const backup = await readFile(store.backupPath, 'utf8')
    for (const secret of accounts.flatMap(secretsOf)) expect(backup).not.toContain(secret)
  })

  it('a wrong key gives ERR_WRONG_KEY with advice, on read and write, and nothing is overwritten', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home, encryption: EncryptionKey.generate() })
    await store.put(chatgptAccount())
    const before = await hashOf(store.path)
    const wrong = new FileCredentialStore({ home, encryption: EncryptionKey.generate() })
    const error = await rejectionOf(wrong.list())
    expectCode(error, 'ERR_WRONG_KEY')
    const message = (error as Error).message
    expect(message).toContain('does not match the one the credentials')
    expect(message).toContain('CODEX_BROKER_KEY')
    expect(message).toContain(`move ${store.path} away`)
    expectCode(await rejectionOf(wrong.put(chatgptAccount())), 'ERR_WRONG_KEY')
    const none = new FileCredentialStore({ home })
    const noKey = await rejectionOf(none.put(chatgptAccount()))
    expectCode(noKey, 'ERR_WRONG_KEY')
    expect((noKey as Error).message).toContain('no encryption key is configured')
    expect(await hashOf(store.path)).toBe(before)
  })

  it('reads plain records written before a key was configured and encrypts them on the next write', async () => {
    const home = await newHome()
    const account = chatgptAccount()
    await new FileCredentialStore({ home }).put(account)
    const encrypted = new FileCredentialStore({ home, encryption: EncryptionKey.generate() })
    expect(plain(await encrypted.get(account.id))).toEqual(plain(account))
    await encrypted.put(apiKeyAccount())
    const text = await readFile(encrypted.path, 'utf8')
    for (const secret of secretsOf(account)) expect(text).not.toContain(secret)
  })
})

describe('FileCredentialStore: account locks', () => {
  it('holds locks/account-<hash>.lock (0600) during the task and removes it after', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    const lockPath = join(home, 'locks', accountLockFileName('acc-1'))
    expect(accountLockFileName('acc-1')).toMatch(/^account-[0-9a-f]{24}\.lock$/)
    await store.withAccountLock('acc-1', async () => {
      expect(await modeOf(lockPath)).toBe(0o600)
      const holder = JSON.parse(await readFile(lockPath, 'utf8')) as Record<string, unknown>
      expect(holder.pid).toBe(process.pid)
      expect(holder.hostname).toBe(hostname())
    })
    await expect(lstat(lockPath)).rejects.toThrow()
  })

  it('recovers the lock of a crashed holder (dead pid)', async () => {
    const home = await newHome()
    const store = new FileCredentialStore({ home })
    await store.list()
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid
    const lockPath = join(home, 'locks', accountLockFileName('acc-1'))
    await writeFile(
      lockPath,
      JSON.stringify({
        pid: deadPid,
        hostname: hostname(),
        acquiredAt: new Date().toISOString(),
        token: 'crashed',
      }),
      { mode: 0o600 },
    )
    expect(
      await store.withAccountLock('acc-1', () => Promise.resolve('ran'), { timeoutMs: 1_000 }),
    ).toBe('ran')
  })

  it('times out with ERR_LOCK_TIMEOUT naming the account and the holder pid', async () => {
    const home = await newHome()
    const holder = new FileCredentialStore({ home })
    const waiter = new FileCredentialStore({ home })
    let release: () => void = () => undefined
    let entered: () => void = () => undefined
    const inside = new Promise<void>((resolve) => (entered = resolve))
    const held = holder.withAccountLock('acc-1', () => {
      entered()
      return new Promise<void>((resolve) => (release = resolve))
    })
    await inside
    const started = Date.now()
    const error = await rejectionOf(
      waiter.withAccountLock('acc-1', () => Promise.resolve(), { timeoutMs: 150 }),
    )
    expectCode(error, 'ERR_LOCK_TIMEOUT')
    expect((error as Error).message).toContain('account acc-1')
    expect((error as Error).message).toContain(`pid ${process.pid}`)
    expect(Date.now() - started).toBeLessThan(1_500)
    release()
    await held
  })
})

describe('FileCredentialStore.onceChanged', () => {
  it('wakes a waiter when another instance replaces accounts.json, and not before', async () => {
    const home = join(await makeTempDir(), 'home')
    const waiter = new FileCredentialStore({ home })
    const writer = new FileCredentialStore({ home })
    const account = chatgptAccount()
    await writer.put(account)
    const controller = new AbortController()
    let woke = false
    const changed = waiter.onceChanged(controller.signal).then(() => {
      woke = true
    })
    // Negative control: nothing was written yet, so the waiter is still waiting.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(woke).toBe(false)
    await writer.update(account.id, (current) => ({ ...current, label: 'renamed' }))
    const timeout = setTimeout(() => {
      controller.abort()
    }, 5_000)
    await changed
    clearTimeout(timeout)
    expect(controller.signal.aborted).toBe(false)
    expect(woke).toBe(true)
  })

  it('resolves on abort when nothing changes', async () => {
    const home = join(await makeTempDir(), 'home')
    const store = new FileCredentialStore({ home })
    await store.put(chatgptAccount())
    const controller = new AbortController()
    const changed = store.onceChanged(controller.signal)
    controller.abort()
    await expect(changed).resolves.toBeUndefined()
  })
})
