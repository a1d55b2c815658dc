import type { Condition, LumaObject } from '../model/types.js';
import type { WatchEvent } from '../store/store.js';
import type { EventRecorder } from './event-log.js';

// Every change of an object's readiness becomes an event, for every kind, without each
// reconciler having to remember to record one: Ready turning True (Normal), an object
// starting to reconcile (Normal), stalling (Warning), and deletion (Normal). The event's
// reason is the condition's, so `luma events` reads like the conditions' history.

interface Seen {
  uid: string | undefined;
  key: string;
}

function readinessKey(
  conditions: Condition[] | undefined,
): { key: string; ready?: Condition; stalled?: Condition } | undefined {
  const ready = conditions?.find((condition) => condition.type === 'Ready');
  if (!ready) return undefined;
  const stalled = conditions?.find((condition) => condition.type === 'Stalled');
  return {
    key: `${ready.status}/${stalled?.status ?? 'False'}/${ready.reason}`,
    ready,
    ...(stalled ? { stalled } : {}),
  };
}

/**
 * The source of the events this watcher records. They retell what the reconcilers already
 * announce (a lease's Expired among them), so lifecycle webhooks leave them out.
 */
export const CONDITION_EVENT_SOURCE = 'status';

export class ConditionEvents {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly recorder: EventRecorder) {}

  /** Objects as they are at start: their current readiness is not news. */
  prime(objects: LumaObject[]): void {
    for (const object of objects) {
      const key = readinessKey(object.status?.conditions)?.key;
      if (key !== undefined) this.seen.set(this.id(object), { uid: object.metadata.uid, key });
    }
  }

  /** Feed every store change; records an event when readiness moved. */
  observe(event: WatchEvent): void {
    const { object } = event;
    const id = this.id(object);
    const ref = { kind: object.kind, name: object.metadata.name };
    if (event.type === 'DELETED') {
      this.seen.delete(id);
      this.recorder.record(
        ref,
        'Normal',
        'Deleted',
        `${object.kind.toLowerCase()}/${object.metadata.name} was deleted`,
      );
      return;
    }
    const now = readinessKey(object.status?.conditions);
    if (!now?.ready) return;
    const before = this.seen.get(id);
    if (before && before.uid === object.metadata.uid && before.key === now.key) return;
    this.seen.set(id, { uid: object.metadata.uid, key: now.key });
    const { ready, stalled } = now;
    if (stalled?.status === 'True') this.recorder.record(ref, 'Warning', stalled.reason, stalled.message);
    else if (ready.status === 'True') this.recorder.record(ref, 'Normal', ready.reason, `Ready: ${ready.message}`);
    else this.recorder.record(ref, 'Normal', ready.reason, ready.message);
  }

  private id(object: LumaObject): string {
    return `${object.kind}/${object.metadata.name}`;
  }
}
