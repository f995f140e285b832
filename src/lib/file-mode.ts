/**
 * Describes file modes and file types in the words the file-safety error messages use
 * ("mode 0644", "a symbolic link", "a FIFO"), so every refusal names exactly what it found.
 */

/** The subset of `fs.Stats` needed to describe a file's type. */
export interface FileTypeStat {
  isFile(): boolean
  isDirectory(): boolean
  isSymbolicLink(): boolean
  isFIFO(): boolean
  isSocket(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
}

/**
 * Formats the permission bits of `mode` as four octal digits.
 *
 * @example
 * formatMode(0o100644) // '0644'
 */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

/**
 * Names the type of a file, with an article.
 *
 * @example
 * describeFileType(await fs.lstat('/dev/null')) // 'a character device'
 */
export function describeFileType(stat: FileTypeStat): string {
  if (stat.isSymbolicLink()) return 'a symbolic link'
  if (stat.isDirectory()) return 'a directory'
  if (stat.isFile()) return 'a regular file'
  if (stat.isFIFO()) return 'a FIFO (named pipe)'
  if (stat.isSocket()) return 'a socket'
  if (stat.isCharacterDevice()) return 'a character device'
  if (stat.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}
