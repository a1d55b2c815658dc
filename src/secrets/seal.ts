import type { SecretEntry, SecretObject } from '../model/types.js';
import type { SecretBox } from './secret-box.js';

// A Secret on its way from a manifest to the store: each plain value becomes its digest
// and its sealed form, and the plain value is dropped. A value equal to the stored one
// keeps its stored sealed form (same digest), so applying the same Secret again changes
// nothing: no new generation, no rolled container.

export function sealSecret(secret: SecretObject, box: SecretBox, current: SecretObject | undefined): SecretObject {
  const data: Record<string, SecretEntry> = {};
  for (const [key, entry] of Object.entries(secret.spec.data)) {
    if (entry.plain === undefined) throw new Error(`secret "${secret.metadata.name}" key "${key}" has no value`);
    const value = Buffer.from(entry.plain, 'base64');
    const digest = box.digest(value, { secret: secret.metadata.name, key });
    const stored = current?.spec.data[key];
    const sealed =
      stored?.digest === digest && stored.sealed !== undefined
        ? stored.sealed
        : box.seal(value, { secret: secret.metadata.name, key });
    data[key] = { digest, sealed };
  }
  return { ...secret, spec: { ...secret.spec, data } };
}

/** Whether any value of a Secret is still plain: such an object must never be written or shown. */
export function holdsPlainValue(secret: SecretObject): boolean {
  return Object.values(secret.spec.data).some((entry) => entry.plain !== undefined);
}
