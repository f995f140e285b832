/**
 * The command's exit codes: 0 ok, 1 failure, 2 usage. Kept apart so `--version` loads nothing else.
 */

/** Something failed. */
export const EXIT_FAILURE = 1
/** A flag or argument was wrong. */
export const EXIT_USAGE = 2
