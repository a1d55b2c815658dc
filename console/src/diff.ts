import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { LumaObject } from './api/types.js';

// What an apply would change, as `luma diff` shows it: a unified diff of the fields a
// manifest owns (name, labels, annotations, spec), never server-set metadata or status.

function declaredYaml(object: LumaObject | null | undefined): string {
  if (!object) return '';
  const { name, labels, annotations } = object.metadata;
  const metadata = { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
  return stringify(
    { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec },
    { sortMapEntries: true },
  );
}

export function objectDiff(live: LumaObject | null | undefined, planned: LumaObject | undefined): string {
  const label = `${planned?.kind.toLowerCase() ?? 'object'}/${planned?.metadata.name ?? ''}`;
  const patch = createTwoFilesPatch(
    `${label} (stored)`,
    `${label} (applied)`,
    declaredYaml(live),
    declaredYaml(planned),
  );
  // The first three lines (a rule and the two "file" names) say nothing the heading does not.
  return patch.split('\n').slice(3).join('\n').trim();
}
