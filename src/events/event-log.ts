// Kubernetes-style events: what happened to an object, for people (`luma events`,
// `luma describe`) and tools (the API's watch stream, webhooks). A repeat of the same
// event for the same object is counted rather than stored again, as kubectl shows them.
// Events are kept in memory, the newest `capacity` of them: they explain recent history,
// they are not the record of truth (objects and the usage ledger are).

export type EventType = 'Normal' | 'Warning';

export interface EventObjectRef {
  /** Project, Image, Lease, or another component such as Sync. */
  kind: string;
  name: string;
}

export interface LumaEvent {
  /** Increases with every new or repeated event; a watcher resumes after the last one it saw. */
  seq: number;
  type: EventType;
  /** CamelCase, such as ContainerStarted or DriftHealed. */
  reason: string;
  message: string;
  object: EventObjectRef;
  /** Which part of Luma said it: controller, sync, proxy, api. */
  source: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

export interface EventRecorder {
  record(object: EventObjectRef, type: EventType, reason: string, message: string): void;
}

export interface EventFilter {
  kind?: string;
  name?: string;
  /** Only events changed after this sequence number. */
  afterSeq?: number;
}

export const DEFAULT_EVENT_CAPACITY = 2_000;

export class EventLog {
  private readonly events: LumaEvent[] = [];
  private readonly listeners = new Set<(event: LumaEvent) => void>();
  private seq = 0;
  private readonly now: () => number;
  private readonly capacity: number;

  constructor(options: { capacity?: number; now?: () => number } = {}) {
    this.capacity = options.capacity ?? DEFAULT_EVENT_CAPACITY;
    this.now = options.now ?? Date.now;
  }

  /** A recorder that signs its events with the component that records them. */
  recorder(source: string): EventRecorder {
    return { record: (object, type, reason, message) => this.record(source, object, type, reason, message) };
  }

  record(source: string, object: EventObjectRef, type: EventType, reason: string, message: string): LumaEvent {
    const at = new Date(this.now()).toISOString();
    const index = this.events.findIndex(
      (event) =>
        event.object.kind === object.kind &&
        event.object.name === object.name &&
        event.type === type &&
        event.reason === reason &&
        event.message === message &&
        event.source === source,
    );
    let event: LumaEvent;
    if (index >= 0) {
      const [existing] = this.events.splice(index, 1);
      event = { ...(existing as LumaEvent), seq: ++this.seq, count: (existing?.count ?? 0) + 1, lastTimestamp: at };
    } else {
      event = {
        seq: ++this.seq,
        type,
        reason,
        message,
        object: { ...object },
        source,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
      };
    }
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
    for (const listener of [...this.listeners]) {
      try {
        listener({ ...event, object: { ...event.object } });
      } catch {
        // A failing listener must not break the one who records.
      }
    }
    return event;
  }

  /** Oldest first (by when they last happened). */
  list(filter: EventFilter = {}): LumaEvent[] {
    return this.events
      .filter(
        (event) =>
          (filter.kind === undefined || event.object.kind.toLowerCase() === filter.kind.toLowerCase()) &&
          (filter.name === undefined || event.object.name === filter.name) &&
          (filter.afterSeq === undefined || event.seq > filter.afterSeq),
      )
      .map((event) => ({ ...event, object: { ...event.object } }));
  }

  subscribe(listener: (event: LumaEvent) => void): () => void {
    const subscription = (event: LumaEvent): void => listener(event);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }
}

/** Records nothing: for code paths (and tests) that have no one to tell. */
export const NO_EVENTS: EventRecorder = { record: () => undefined };
