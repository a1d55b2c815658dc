import { KINDS, type Kind, type LumaObject } from '../../model/types.js';
import { canonicalJson } from '../../util/hash.js';
import type { WatchEvent, WatchEventType } from '../store.js';

// The in-memory copy of the database's objects, which the store's synchronous reads
// answer from. It moves only forward, one change at a time in version order: every write
// to the database takes the next version (the writes are serialized on one counter row,
// so versions commit in order and leave no gaps), and a change arriving early waits here
// until the ones before it have come. The watch events it returns are therefore each
// delivered once, in order, whichever path (a write's own transaction, a notification, a
// catch-up after a reconnect) brought the change first.

export interface Change {
  version: number;
  type: WatchEventType;
  /** The object as stored by the change; for DELETED, as it was, with the deletion's version. */
  object: LumaObject;
}

export class Mirror {
  private readonly objects = new Map<Kind, Map<string, LumaObject>>();
  private readonly early = new Map<number, Change>();
  /** Every change up to and including this version is applied. */
  private applied = 0;

  constructor() {
    for (const kind of KINDS) this.objects.set(kind, new Map());
  }

  get version(): number {
    return this.applied;
  }

  bucket(kind: Kind): Map<string, LumaObject> {
    return this.objects.get(kind) ?? new Map();
  }

  /**
   * Takes changes in any order; applies those that follow the applied version without a
   * gap and returns their events. A change at or below the applied version was seen already.
   */
  accept(changes: readonly Change[]): WatchEvent[] {
    for (const change of changes) if (change.version > this.applied) this.early.set(change.version, change);
    const events: WatchEvent[] = [];
    for (let next = this.early.get(this.applied + 1); next; next = this.early.get(this.applied + 1)) {
      this.early.delete(next.version);
      this.applied = next.version;
      events.push(this.apply(next));
    }
    return events;
  }

  /**
   * Replaces everything with a snapshot taken at `version` (the first load, or when the
   * change log no longer reaches back to the applied version) and returns the events that
   * turn what was held into it.
   */
  reset(objects: readonly LumaObject[], version: number): WatchEvent[] {
    if (version < this.applied) return [];
    const events: WatchEvent[] = [];
    const seen = new Set<string>();
    for (const object of objects) {
      seen.add(`${object.kind}/${object.metadata.name}`);
      const held = this.bucket(object.kind).get(object.metadata.name);
      if (held && canonicalJson(held) === canonicalJson(object)) continue;
      this.bucket(object.kind).set(object.metadata.name, object);
      events.push({ type: held ? 'MODIFIED' : 'ADDED', object });
    }
    for (const [kind, bucket] of this.objects) {
      for (const [name, held] of bucket) {
        if (seen.has(`${kind}/${name}`)) continue;
        bucket.delete(name);
        events.push({ type: 'DELETED', object: held });
      }
    }
    this.applied = version;
    for (const early of [...this.early.keys()]) if (early <= version) this.early.delete(early);
    return events;
  }

  /** Whether a change past the applied version is waiting for one that has not come. */
  hasGap(): boolean {
    return this.early.size > 0;
  }

  private apply(change: Change): WatchEvent {
    const bucket = this.bucket(change.object.kind);
    if (change.type === 'DELETED') bucket.delete(change.object.metadata.name);
    else bucket.set(change.object.metadata.name, change.object);
    return { type: change.type, object: change.object };
  }
}
