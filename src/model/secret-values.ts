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

export function checkSecretValues(checks: Checks): void {
  for (const { field, decode } of SOURCES) {
    const values = checks.value([field]);
    if (values === null || typeof values !== 'object' || checks.reported([field])) continue;
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== 'string' || checks.reported([field, key])) continue;
      const problem = valueProblem(decode(value));
      if (problem) checks.report([field, key], `the value of key "${key}" ${problem}`);
    }
  }
}

function valueProblem(value: Buffer): string | undefined {
  if (value.includes(0)) return 'holds a NUL byte, which no environment variable can hold (the value is not shown)';
  if (!isUtf8(value)) return 'is not UTF-8 text; a Secret holds text, not binary files (the value is not shown)';
  return undefined;
}
