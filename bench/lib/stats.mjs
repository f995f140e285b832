/** Small statistics and formatting helpers shared by the bench scripts. */
import { loadavg } from 'node:os'

export function median(values) {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** The nearest-rank percentile of an ascending array (p in [0, 1]). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}

export function min(values) {
  return Math.min(...values.filter((value) => !Number.isNaN(value)))
}

export function max(values) {
  return Math.max(...values.filter((value) => !Number.isNaN(value)))
}

/** A number with `digits` decimals, or `n/a`. */
export function fmt(value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

/** The 1-minute load average. */
export function load() {
  return loadavg()[0].toFixed(2)
}

/** `target=met` when every check holds, `target=missed` when one fails, `target=n/a` when none applies. */
export function target(checks) {
  const known = checks.filter((check) => check !== null)
  if (known.length === 0) return 'target=n/a'
  return known.every(Boolean) ? 'target=met' : 'target=missed'
}
