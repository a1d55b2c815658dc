/** Whether `--store` names a PostgreSQL database (kept apart so the CLI checks it without loading `pg`). */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\/./.test(value);
}

/** The URL without its password, for logs and errors. */
export function redactedUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}
