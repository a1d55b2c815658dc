import type { LumaObject, SecretEntry } from '../model/types.js';

// What is shown of a Secret, anywhere outside the controller: each key with its digest.
// Neither the value nor its sealed form leaves the process: the sealed form is safe to
// keep on disk, but a copy in a client's cache, a terminal or a log is one more thing to
// guard for no use. Every answer of the API passes through redactSecrets (a serialization
// hook in api/server.ts), and every watch stream through redactObject.

/** A Secret's key as shown: its digest, or `unset` when it has none (never stored so). */
export function shownEntry(entry: SecretEntry): SecretEntry {
  return { digest: entry.digest ?? 'unset' };
}

export function redactObject<T extends LumaObject>(object: T): T {
  if (object.kind !== 'Secret') return object;
  const data = Object.fromEntries(Object.entries(object.spec.data).map(([key, entry]) => [key, shownEntry(entry)]));
  return { ...object, spec: { ...object.spec, data } };
}

/**
 * The value with every Secret in it redacted, wherever it is nested (lists, apply
 * reports, dry-run answers). Objects of other kinds are not walked into: a Secret
 * never lies inside one. Only what leads to a Secret is copied; an answer without one
 * (the sync status of a thousand files) is given back as it is, not copied on the loop
 * that also serves the proxy.
 */
export function redactSecrets(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, index) => {
      const redacted = redactSecrets(item);
      if (redacted !== item) (copy ??= [...value])[index] = redacted;
    });
    return copy ?? value;
  }
  if (isSecret(value)) return redactObject(value);
  if (isOtherObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  // for…in rather than Object.entries: no array of pairs for every object of a large answer.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const nested = (value as Record<string, unknown>)[key];
    const redacted = redactSecrets(nested);
    if (redacted !== nested) (copy ??= { ...value })[key] = redacted;
  }
  return copy ?? value;
}

function isSecret(value: object): value is Extract<LumaObject, { kind: 'Secret' }> {
  const record = value as Record<string, unknown>;
  return record.kind === 'Secret' && typeof record.spec === 'object' && record.spec !== null;
}

function isOtherObject(value: object): boolean {
  const record = value as Record<string, unknown>;
  return typeof record.kind === 'string' && typeof record.metadata === 'object' && typeof record.spec === 'object';
}
