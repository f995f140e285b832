/**
 * Recognises Node.js system errors (`ENOENT`, `EEXIST`, `ELOOP`, …) by their `code`, without
 * unsafe casts at every call site of the file-system modules.
 */

/**
 * Returns the `code` of a Node.js system error, or undefined.
 *
 * @example
 * errnoCode(error) === 'ENOENT'
 */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code: unknown = Reflect.get(error, 'code')
  return typeof code === 'string' ? code : undefined
}

/**
 * Returns true when `error` is a system error with one of `codes`.
 *
 * @example
 * if (hasErrnoCode(error, 'ENOENT', 'ENOTDIR')) return undefined
 */
export function hasErrnoCode(error: unknown, ...codes: readonly string[]): boolean {
  const code = errnoCode(error)
  return code !== undefined && codes.includes(code)
}
