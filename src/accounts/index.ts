/**
 * The account pool (DESIGN.md "The account pool"): its contracts, the health rules, the selection strategies, the
 * affinity table and the error of an exhausted pool. Re-exports only.
 */
export {
  POOL_STRATEGIES,
  type AccountHealth,
  type AffinityHints,
  type Candidate,
  type CircuitState,
  type HealthPolicy,
  type PoolEvent,
  type PoolStateStore,
  type PoolStrategy,
  type RequestOutcome,
  type Unusable,
} from './types.js'
export {
  applyOutcome,
  circuitState,
  DEFAULT_HEALTH_POLICY,
  emptyHealth,
  recordQuota,
  unusableReason,
  type HealthChange,
  type UsabilityAccount,
  type UsabilityOptions,
} from './health.js'
export { AccountSelector, type AccountSelectorOptions } from './account-selector.js'
export {
  AffinityTable,
  MAX_AFFINITY_KEY_LENGTH,
  type AffinityTableOptions,
} from './affinity-table.js'
export {
  formatResetTime,
  PoolExhaustedError,
  poolExhaustedError,
  type PoolExhaustedDetails,
  type PoolExhaustedOptions,
} from './pool-exhausted.js'
export {
  AccountPool,
  type AccountPoolOptions,
  type PoolAccountView,
  type PoolLease,
} from './account-pool.js'
export { outcomeOf } from './outcome-of.js'
export {
  MemoryPoolStateStore,
  type MemoryPoolStateStoreOptions,
} from './memory-pool-state-store.js'
export {
  DEFAULT_POOL_CACHE_MS,
  DEFAULT_POOL_FLUSH_DELAY_MS,
  FilePoolStateStore,
  QUOTA_FILE_NAME,
  QUOTA_LOCK_FILE_NAME,
  type FilePoolStateStoreOptions,
} from './file-pool-state-store.js'
export { RedisPoolStateStore, type RedisPoolStateStoreOptions } from './redis-pool-state-store.js'
