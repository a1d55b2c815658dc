import type { Kind } from '../model/types.js';

// Which objects the watched directory owns. Each object it applies carries the file that
// declared it in an annotation (for people: `luma get -o yaml` shows where it comes from),
// and the inventory (inventory.ts) records it with its uid: only the inventory decides
// what may be pruned, so an object applied with the CLI or the API is never the
// directory's to delete, whatever its annotations say.

/** The manifest file (relative to the watched directory) that declared an object. */
export const SOURCE_FILE_ANNOTATION = 'luma.dev/source-file';

export interface ObjectRef {
  kind: Kind;
  name: string;
}

/** `Project/hello`: how objects are named in sync status, events and logs. */
export function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.name}`;
}

export function sameRef(a: ObjectRef, b: ObjectRef): boolean {
  return a.kind === b.kind && a.name === b.name;
}
