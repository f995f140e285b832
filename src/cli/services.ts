/**
 * Opening what the account commands work with — the credential store in the home folder, the issuer
 * configuration and the token manager — from the resolved environment, in one place. Encryption at rest is on
 * when the person asked for it (`--encrypt`, or `CODEX_BROKER_KEY`) or when the home already holds a key or
 * encrypted records, so a store encrypted once stays encrypted.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IssuerConfig } from '../oauth/index.js'
import {
  ACCOUNTS_FILE_NAME,
  FileCredentialStore,
  KEY_FILE_NAME,
  resolveEncryptionKey,
  type CredentialStore,
} from '../store/index.js'
import { TokenManager } from '../tokens/index.js'
import type { CliEnvironment } from './environment.js'

/** What the account commands need. */
export interface CliServices {
  store: CredentialStore
  issuer: IssuerConfig
  tokens: TokenManager
}

/** Opens the file store in `env.home` (encrypted when it should be) and a token manager over it. */
export async function openServices(env: CliEnvironment): Promise<CliServices> {
  const encryption = wantsEncryption(env)
    ? (await resolveEncryptionKey({ home: env.home, envKey: env.encryptionKey })).key
    : undefined
  const store = new FileCredentialStore({ home: env.home, encryption })
  const issuer: IssuerConfig = { issuer: env.issuer, clientId: env.clientId }
  return { store, issuer, tokens: new TokenManager({ store, issuer }) }
}

function wantsEncryption(env: CliEnvironment): boolean {
  if (env.encrypt || env.encryptionKey !== undefined) return true
  if (existsSync(join(env.home, KEY_FILE_NAME))) return true
  const accounts = join(env.home, ACCOUNTS_FILE_NAME)
  try {
    return readFileSync(accounts, 'utf8').includes('"A256GCM"')
  } catch {
    return false
  }
}
