/**
 * The package version, read from package.json at build time so `codex-broker --version` needs no file access.
 */
import packageJson from '../../package.json' with { type: 'json' }

/** The codex-broker version, e.g. `0.1.0`. */
export const VERSION: string = packageJson.version
