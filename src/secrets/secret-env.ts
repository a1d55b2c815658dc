import type { ProjectSettings } from '../model/project-settings.js';
import type { SecretKeyRef } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import type { SecretBox } from './secret-box.js';

// Variables taken from Secrets (valueFrom.secretKeyRef), opened for a container's
// environment. The opened values live only in memory on their way to Docker; what the
// container's spec hash sees is each value's digest, so a changed secret replaces the
// containers that use it, and no hash or label is made from a plain value.

export type ResolvedSecretEnv =
  | { env: Record<string, string>; digests: Record<string, string> }
  /** Why it cannot be resolved yet: a missing Secret or key. Names only, never a value. */
  | { missing: string };

export function resolveSecretEnv(
  store: Pick<ObjectStore, 'get'>,
  box: SecretBox | undefined,
  refs: Record<string, SecretKeyRef>,
): ResolvedSecretEnv {
  const env: Record<string, string> = {};
  const digests: Record<string, string> = {};
  for (const [variable, ref] of Object.entries(refs)) {
    const secret = store.get('Secret', ref.name);
    if (!secret || secret.metadata.deletionTimestamp !== undefined)
      return { missing: `variable ${variable}: secret "${ref.name}" does not exist` };
    const entry = secret.spec.data[ref.key];
    if (entry?.sealed === undefined || entry.digest === undefined)
      return { missing: `variable ${variable}: secret "${ref.name}" has no key "${ref.key}"` };
    if (!box) return { missing: `variable ${variable}: this process has no secret key to open secrets with` };
    try {
      env[variable] = box.open(entry.sealed, { secret: ref.name, key: ref.key }).toString('utf8');
    } catch (error) {
      return { missing: `variable ${variable}: ${error instanceof Error ? error.message : String(error)}` };
    }
    digests[variable] = entry.digest;
  }
  return { env, digests };
}

/** The Secrets a set of variables reads, for the controller to follow. */
export function secretNamesOf(refs: Record<string, SecretKeyRef>): Set<string> {
  return new Set(Object.values(refs).map((ref) => ref.name));
}

/**
 * Settings whose env holds the Secrets' values as well, and `secretDigests` for the spec
 * hash; the settings as they are when they read no Secret.
 */
export function withSecretEnv(
  settings: ProjectSettings,
  store: Pick<ObjectStore, 'get'>,
  box: SecretBox | undefined,
): ProjectSettings | { missing: string } {
  if (settings.secretEnv === undefined) return settings;
  const resolved = resolveSecretEnv(store, box, settings.secretEnv);
  if ('missing' in resolved) return resolved;
  const env = Object.fromEntries(
    Object.entries({ ...settings.env, ...resolved.env }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return { ...settings, env, secretDigests: resolved.digests };
}
