/**
 * An in-memory `HintStorage` that records every write, and one that throws on every access, for the tests of
 * what the browser client persists.
 */
import type { HintStorage } from '../../../src/react/auth-hint.js'

export interface RecordingStorage extends HintStorage {
  readonly writes: { key: string; value: string }[]
  readonly data: Map<string, string>
}

export function createRecordingStorage(initial: Record<string, string> = {}): RecordingStorage {
  const data = new Map(Object.entries(initial))
  const writes: { key: string; value: string }[] = []
  return {
    data,
    writes,
    getItem: (key) => data.get(key) ?? null,
    setItem: (key, value) => {
      writes.push({ key, value })
      data.set(key, value)
    },
  }
}

export function createThrowingStorage(): HintStorage {
  return {
    getItem: () => {
      throw new DOMException('The operation is insecure.', 'SecurityError')
    },
    setItem: () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
    },
  }
}
