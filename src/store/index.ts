/**
 * Credentials at rest (DESIGN.md "Credentials at rest"): the `CredentialStore` contract and its file, memory and
 * Redis implementations, encryption keys and where they come from, the cross-process file lock, the accounts-file
 * format, and the official Codex CLI's auth.json import/export. Re-exports only; the package root re-exports this
 * whole list, so internal helpers (the envelope cipher, the in-process mutex, record codecs) stay in their modules.
 */
export type {
  AccountLockOptions,
  AccountStatus,
  ApiKeyAuth,
  ChatgptAuth,
  CredentialStore,
  StoredAccount,
} from './credential-store.js'
export {
  accountFromSignIn,
  type AccountFromSignInOptions,
  saveSignIn,
} from './account-from-sign-in.js'
export {
  ACCOUNTS_FILE_VERSION,
  decodeAccountsFile,
  type DecodeAccountsFileOptions,
  encodeAccountsFile,
  type AccountsFileCodecOptions,
} from './account-codec.js'
export { decryptJson, ENCRYPTION_KEY_BYTES, EncryptionKey, encryptJson } from './encryption.js'
export {
  acquireFileLock,
  DEFAULT_LOCK_STALE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type FileLock,
  type FileLockHolder,
  type FileLockOptions,
  isProcessAlive,
  readFileLockHolder,
  withFileLock,
} from './file-lock.js'
export {
  ACCOUNTS_BACKUP_FILE_NAME,
  ACCOUNTS_FILE_NAME,
  accountLockFileName,
  FileCredentialStore,
  type FileCredentialStoreOptions,
  LOCKS_DIR_NAME,
  STORE_LOCK_FILE_NAME,
} from './file-credential-store.js'
export {
  MemoryCredentialStore,
  type MemoryCredentialStoreOptions,
} from './memory-credential-store.js'
export {
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_LOCK_TTL_MS,
  type RedisCommandSender,
  RedisCredentialStore,
  type RedisCredentialStoreOptions,
} from './redis-credential-store.js'
export {
  type EncryptionKeySource,
  KEY_FILE_NAME,
  KEYCHAIN_SERVICE,
  type KeychainEntry,
  type KeychainModule,
  resolveEncryptionKey,
  type ResolvedEncryptionKey,
  type ResolveEncryptionKeyOptions,
} from './key-source.js'
export {
  CODEX_EXPORT_WARNING,
  CODEX_IMPORT_WARNING,
  type CodexAuthImport,
  exportCodexAuth,
  type ExportCodexAuthOptions,
  importCodexAuth,
  type ImportCodexAuthOptions,
  writeCodexAuthFile,
} from './codex-auth-file.js'
