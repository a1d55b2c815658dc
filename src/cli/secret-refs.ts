import { secretEnvOf } from '../model/project-settings.js';
import type { LumaObject, SecretKeyRef, SecretObject } from '../model/types.js';
import type { ApiClient } from './api-client.js';

// `luma describe` of a project or lease: each variable taken from a Secret, whether its
// key is set, and the value's digest. Values never come to the CLI (the API redacts them).

/** What `describe` shows for the variables of `object` that read Secrets; empty when none do. */
export async function describeSecretRefs(api: ApiClient, object: LumaObject): Promise<string> {
  const refs = object.kind === 'Project' || object.kind === 'Lease' ? secretEnvOf(object.spec.env ?? {}) : {};
  if (Object.keys(refs).length === 0) return '';
  const secrets = new Map<string, SecretObject | undefined>();
  for (const ref of Object.values(refs)) {
    if (secrets.has(ref.name)) continue;
    const secret = await api.get('Secret', ref.name).catch(() => undefined);
    secrets.set(ref.name, secret?.kind === 'Secret' ? secret : undefined);
  }
  return formatSecretRefs(refs, (name) => secrets.get(name));
}

export function formatSecretRefs(
  refs: Record<string, SecretKeyRef>,
  secretNamed: (name: string) => SecretObject | undefined,
): string {
  const lines = Object.entries(refs).map(([variable, ref]) => {
    const secret = secretNamed(ref.name);
    const digest = secret?.spec.data[ref.key]?.digest;
    const state = !secret
      ? `unset (secret "${ref.name}" does not exist)`
      : digest === undefined
        ? `unset (no key "${ref.key}")`
        : `set ${digest}`;
    return `  ${variable}: secret/${ref.name} key ${ref.key}: ${state}`;
  });
  return `Secrets:\n${lines.join('\n')}\n`;
}
