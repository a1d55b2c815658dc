import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { LumaObject } from '../model/types.js';
import { objectRef } from './format.js';
import { PLAIN, type Style } from './style.js';

// `luma diff`: what an apply would change, as a unified diff of the fields a manifest owns
// (name, labels, annotations, spec). Server-set metadata and status are left out: they are
// not the user's to change, and showing them would make every diff noisy.

export interface PlannedChange {
  kind: LumaObject['kind'];
  name: string;
  /** What is stored now; null when the apply would create it. */
  live: LumaObject | null;
  /** What the apply would store. */
  planned: LumaObject;
}

/** The part of an object its manifest declares, as YAML with sorted keys. */
export function declaredYaml(object: LumaObject | null): string {
  if (!object) return '';
  const { labels, annotations } = object.metadata;
  const metadata = {
    name: object.metadata.name,
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  };
  return stringify(
    { apiVersion: object.apiVersion, kind: object.kind, metadata, spec: object.spec },
    { sortMapEntries: true },
  );
}

/** A unified diff (`--- live/project/x`, `+++ manifest/project/x`), or '' when nothing would change. */
export function diffObject(change: PlannedChange, style: Style = PLAIN): string {
  const before = declaredYaml(change.live);
  const after = declaredYaml(change.planned);
  if (before === after) return '';
  const ref = objectRef({ kind: change.kind, name: change.name });
  const patch = createTwoFilesPatch(
    change.live ? `live/${ref}` : '/dev/null',
    `manifest/${ref}`,
    before,
    after,
    '',
    '',
    { context: 3 },
  );
  return patch
    .split('\n')
    .filter((line) => !/^=+$/.test(line))
    .map((line) =>
      line.startsWith('+') && !line.startsWith('+++')
        ? style.good(line)
        : line.startsWith('-') && !line.startsWith('---')
          ? style.bad(line)
          : line.startsWith('@@')
            ? style.faint(line)
            : line,
    )
    .join('\n')
    .replace(/\n*$/, '\n')
    .replace(/\t$/gm, '');
}
