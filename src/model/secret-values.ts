import { isUtf8 } from 'node:buffer';
import type { Checks } from './semantic-checks.js';

// What a Secret's value may be, checked when it is applied, before it is sealed. A value
// becomes an environment variable: Docker refuses one holding a NUL byte, and its error
// quotes the whole variable, so such a value would be copied from the engine's error into
// status, events and logs. Values are read back as UTF-8 text (src/secrets/secret-env.ts),
// so bytes that are not UTF-8 would be changed silently. Messages name the key, never the value.

/** Keys whose values are plain text. `data` holds base64, decoded before the checks. */
const SOURCES = [
  { field: 'stringData', decode: (value: string) => Buffer.from(value, 'utf8') },
  { field: 'data', decode: (value: string) => Buffer.from(value, 'base64') },
] as const;

/** Linux's limit for one environment string (MAX_ARG_STRLEN). */
export const MAX_SECRET_VALUE_BYTES = 128 * 1024;
/** A Secret's values together, as in Kubernetes: secrets are small, and each start opens them all. */
export const MAX_SECRET_BYTES = 1024 * 1024;

export function checkSecretValues(checks: Checks): void {
  // By key, stringData winning over data as it does when the Secret is read.
  const sizes = new Map<string, number>();
  for (const { field, decode } of SOURCES.slice().reverse()) {
    const values = checks.value([field]);
    if (values === null || typeof values !== 'object' || checks.reported([field])) continue;
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== 'string' || checks.reported([field, key])) continue;
      const bytes = decode(value);
      const problem = valueProblem(bytes);
      if (problem) checks.report([field, key], `the value of key "${key}" ${problem}`);
      sizes.set(key, bytes.length);
    }
  }
  const total = [...sizes.values()].reduce((sum, size) => sum + size, 0);
  if (total > MAX_SECRET_BYTES)
    checks.report([], `expected at most 1 MiB of values in one Secret, got ${total} bytes; split it into several`);
}

function valueProblem(value: Buffer): string | undefined {
  if (value.length > MAX_SECRET_VALUE_BYTES)
    return `is ${value.length} bytes, more than the 128 KiB an environment variable can hold`;
  if (value.includes(0)) return 'holds a NUL byte, which no environment variable can hold (the value is not shown)';
  if (!isUtf8(value)) return 'is not UTF-8 text; a Secret holds text, not binary files (the value is not shown)';
  return undefined;
}
