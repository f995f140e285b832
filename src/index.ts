/**
 * `codex-broker`: the library entry point. Re-exports only; each surface adds its public API here as it lands.
 */
export * from './lib/index.js'
