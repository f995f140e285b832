/**
 * A model of the prompt cache behind `usage.input_tokens_details.cached_tokens`. The real cache is keyed by the
 * prompt prefix and kept warm by a stable `prompt_cache_key` / `session-id` on one account; here each key
 * remembers the prompt size of its previous request, and a later request under the same key reuses that much
 * (a conversation's earlier prompt is a prefix of its next one). That is what makes account affinity measurable:
 * the same key on another account starts cold.
 *
 * Entries hang off the owner object (a `SimAccount`, or an API key's record) in a WeakMap, so `control.reset()`
 * — which replaces those objects — empties the cache with no hook into `SimState`.
 */

const MAX_KEYS_PER_OWNER = 10_000

const caches = new WeakMap<object, Map<string, number>>()

/**
 * Records a request of `promptTokens` under `key` for `owner` and answers how many of its tokens were cached
 * (0 on the first request under a key, or without a key).
 */
export function cachedTokens(owner: object, key: string | null, promptTokens: number): number {
  if (key === null || key === '') return 0
  let cache = caches.get(owner)
  if (!cache) {
    cache = new Map()
    caches.set(owner, cache)
  }
  const previous = cache.get(key)
  // Re-insert so the Map's order is least-recently-used first, for eviction.
  cache.delete(key)
  cache.set(key, promptTokens)
  if (cache.size > MAX_KEYS_PER_OWNER) {
    const oldest = cache.keys().next()
    if (oldest.done !== true) cache.delete(oldest.value)
  }
  return previous === undefined ? 0 : Math.min(previous, promptTokens)
}
