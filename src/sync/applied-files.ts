import type { LumaObject, ObjectMeta } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import { canonicalJson } from '../util/hash.js';
import { refKey, type ObjectRef } from './ownership.js';
import type { DeclaredObject } from './planner.js';
import type { KnownFile } from './scan.js';

// What each file applied in the last pass that applied it, so that a pass costs what
// changed: a file whose bytes are the same and whose objects nobody changed since is not
// parsed, admitted or applied again; one whose bytes changed but declare the same objects
// (a comment, the layout) is parsed, in the scan's thread, and not applied again. Kept in memory only: the first pass after a start
// applies every file, as the operator's settings may have changed meanwhile.
//
// An object changed through the API or the CLI since (its spec, labels or annotations; a
// delete, or a re-creation under another uid) makes its file apply again, so that the
// directory puts back what it declares as it always did. A refused or failed file is
// never recorded: it is tried, and reported, on every pass. A file that builds an Image
// is never skipped: its build context, beside it, may have changed without it.

interface AppliedObjectRecord extends ObjectRef {
  /** What an apply of the file would change if it differed: see `fingerprint`. */
  fingerprint: string;
  uid: string;
  /** The version at which the fingerprint last matched: until the object is written again, it still does. */
  resourceVersion: string | undefined;
}

interface AppliedFileRecord extends KnownFile {
  declared: DeclaredObject[];
  objects: AppliedObjectRecord[];
}

/** What the user and the directory write (spec, labels, annotations) and which object it is; not status. */
function fingerprint(metadata: ObjectMeta): string {
  const { uid, generation, labels, annotations, deletionTimestamp } = metadata;
  return canonicalJson({ uid, generation, labels, annotations, deletionTimestamp });
}

export class AppliedFiles {
  private readonly records = new Map<string, AppliedFileRecord>();
  /** Hashes of what the current pass read, recorded for the files it applies. */
  private readonly read = new Map<string, KnownFile>();

  constructor(private readonly store: ObjectStore) {}

  /**
   * What the files a scan need not apply again held: each applied these bytes (and these
   * objects) last time, and nobody changed its objects since. Each file's objects are read from the store
   * between turns of the event loop (`turn`): a thousand files' reads at once hold it.
   */
  async known(turn: () => Promise<void>): Promise<Map<string, KnownFile>> {
    const known = new Map<string, KnownFile>();
    for (const [file, record] of [...this.records]) {
      await turn();
      const current = record.objects.every((object) => this.unchangedSince(object));
      if (current) known.set(file, { contentHash: record.contentHash, objectsHash: record.objectsHash });
    }
    return known;
  }

  /**
   * Whether the stored object is still what the file applied. Not written since: yes, with
   * nothing copied. Written since (mostly its status): its metadata alone is copied and
   * compared, and a match moves the record to that version.
   */
  private unchangedSince(object: AppliedObjectRecord): boolean {
    const version = this.store.resourceVersion(object.kind, object.name);
    if (version === undefined) return false;
    if (version === object.resourceVersion) return true;
    const stored = this.store.metadata(object.kind, object.name);
    if (stored === undefined || fingerprint(stored) !== object.fingerprint) return false;
    object.resourceVersion = version;
    return true;
  }

  /** Called with every file a pass read and parsed (or knew), and the hashes of what it read. */
  noteRead(file: string, read: KnownFile): void {
    this.read.set(file, read);
  }

  /** What an unchanged file declares, for the planner. */
  declared(file: string): DeclaredObject[] {
    return this.records.get(file)?.declared ?? [];
  }

  /** The objects an unchanged file applied, with their uids, when the plan asks it to apply the same ones; else undefined. */
  stillApplied(file: string, planned: readonly ObjectRef[]): Array<ObjectRef & { uid: string }> | undefined {
    const record = this.records.get(file);
    if (!record) return undefined;
    const same = sameKeys(record.objects, planned);
    return same ? record.objects.map(({ kind, name, uid }) => ({ kind, name, uid })) : undefined;
  }

  /** Whether the file's last apply stored exactly the objects it declares (none declared twice, none refused). */
  appliedAsDeclared(file: string): boolean {
    const record = this.records.get(file);
    return record !== undefined && sameKeys(record.objects, record.declared);
  }

  /**
   * An unchanged file this pass did not apply again: its record now holds the hashes of the
   * bytes just read. Without this, a file whose comment changed would keep the hash of its
   * old bytes and be read and parsed again on every later pass.
   */
  keep(file: string): void {
    const record = this.records.get(file);
    const read = this.read.get(file);
    // In place: a record is this class's own, and a pass keeps a thousand of them.
    if (record && read) Object.assign(record, read);
  }

  /** A file this pass applied; one that is not `skippable` (it builds an Image) is read again every pass. */
  record(
    file: string,
    declared: DeclaredObject[],
    applied: readonly LumaObject[],
    options: { skippable: boolean },
  ): void {
    const read = this.read.get(file);
    if (read === undefined || !options.skippable) {
      this.records.delete(file);
      return;
    }
    const objects = applied.map((object) => ({
      kind: object.kind,
      name: object.metadata.name,
      uid: object.metadata.uid ?? '',
      fingerprint: fingerprint(object.metadata),
      resourceVersion: object.metadata.resourceVersion,
    }));
    this.records.set(file, { ...read, declared, objects });
  }

  forget(file: string): void {
    this.records.delete(file);
  }

  /** After a pass: only the files it read are remembered. */
  endPass(): void {
    for (const file of this.records.keys()) if (!this.read.has(file)) this.records.delete(file);
    this.read.clear();
  }

  /** A pass that failed as a whole: the next one reads every file again. */
  clear(): void {
    this.records.clear();
    this.read.clear();
  }
}

function sameKeys(a: readonly ObjectRef[], b: readonly ObjectRef[]): boolean {
  if (a.length !== b.length) return false;
  // Most files declare one object or a few: compared pairwise, without building keys.
  if (a.length <= 4) return b.every((ref) => a.some((other) => other.kind === ref.kind && other.name === ref.name));
  const keys = new Set(a.map(refKey));
  return b.every((ref) => keys.has(refKey(ref)));
}
