// Exit codes scripts can trust; docs/cli.md lists them. Every command uses these, with
// one exception kubectl made familiar: `luma diff` exits 1 when there are differences,
// so its errors are never below 2.

export const EXIT = {
  /** It did what was asked. */
  ok: 0,
  /** It could not: the API refused (invalid manifest, not found, conflict), was unreachable, or an object stalled. */
  failure: 1,
  /** The command line was wrong: an unknown command, flag, kind or a bad value. */
  usage: 2,
  /** `luma wait` or `luma apply --wait` ran out of time. */
  timeout: 3,
} as const;

export const DIFF_EXIT = {
  same: 0,
  different: 1,
  /** The lowest code of a failed diff: any other command's failure becomes at least this. */
  error: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
