// Kubernetes-style events: what happened to an object, for people (`luma events`,
// `luma describe`) and tools (the API's watch stream, webhooks). A repeat of the same
// event for the same object is counted rather than stored again, as kubectl shows them.
// The newest `capacity` of them are kept (in memory, or in PostgreSQL when controllers
// share a store): they explain recent history, they are not the record of truth (objects
// and the usage ledger are).

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

/** An object's events as recorded so far (a log's list, filtered to the object). */
export type EventHistory = (object: EventObjectRef) => readonly LumaEvent[];

export interface EventFilter {
  kind?: string;
  name?: string;
  /** Only events changed after this sequence number. */
  afterSeq?: number;
}

export const DEFAULT_EVENT_CAPACITY = 2_000;

/**
 * Where events are recorded and read: MemoryEventLog (one process, the embedded default)
 * or PostgresEventLog (src/events/postgres-event-log.ts: every controller sharing a
 * database shows the same events, numbered by the database). The shared suite
 * test/unit/events/event-log.cases.ts runs against both.
 */
export interface EventLog {
  /** A recorder that signs its events with the component that records them. */
  recorder(source: string): EventRecorder;
  record(source: string, object: EventObjectRef, type: EventType, reason: string, message: string): void;
  /** Oldest first (by when they last happened). */
  list(filter?: EventFilter): LumaEvent[];
  /** Every event this process shows, whichever process recorded it. */
  subscribe(listener: (event: LumaEvent) => void): () => void;
  /**
   * Only the events this process records, once each as stored: for what must happen once
   * per cluster however many controllers show the event (webhooks).
   */
  subscribeRecorded(listener: (event: LumaEvent) => void): () => void;
  /** Resolves once every event recorded so far is stored and shown (or kept for later while the store is away). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Whether two events are the same event happening again (kubectl counts it instead). */
export function sameOccurrence(
  a: Omit<LumaEvent, 'seq' | 'count' | 'firstTimestamp' | 'lastTimestamp'>,
  b: typeof a,
): boolean {
  return (
    a.object.kind === b.object.kind &&
    a.object.name === b.object.name &&
    a.type === b.type &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.source === b.source
  );
}

/** One string per occurrence: equal exactly when sameOccurrence is true. */
function occurrenceKey(event: Omit<LumaEvent, 'seq' | 'count' | 'firstTimestamp' | 'lastTimestamp'>): string {
  const { object, type, reason, message, source } = event;
  return JSON.stringify([object.kind, object.name, type, reason, message, source]);
}

function copyEvent(event: LumaEvent): LumaEvent {
  return { ...event, object: { ...event.object } };
}

export class MemoryEventLog implements EventLog {
  /**
   * By occurrenceKey, in seq order (a Map keeps insertion order): a repeat finds its
   * earlier occurrence without a scan. Scanning the up to `capacity` events at each record
   * was 15 % of the controller's busy time while 10,000 projects were applied (bench/scale).
   */
  private events = new Map<string, LumaEvent>();
  private readonly listeners = new Set<(event: LumaEvent) => void>();
  private readonly recordedListeners = new Set<(event: LumaEvent) => void>();
  private seq = 0;
  private readonly now: () => number;
  private readonly capacity: number;

  constructor(options: { capacity?: number; now?: () => number } = {}) {
    this.capacity = options.capacity ?? DEFAULT_EVENT_CAPACITY;
    this.now = options.now ?? Date.now;
  }

  /** The highest sequence number shown so far. */
  get lastSeq(): number {
    return this.seq;
  }

  recorder(source: string): EventRecorder {
    return { record: (object, type, reason, message) => this.record(source, object, type, reason, message) };
  }

  record(source: string, object: EventObjectRef, type: EventType, reason: string, message: string): LumaEvent {
    const at = new Date(this.now()).toISOString();
    const occurrence = { type, reason, message, object: { ...object }, source };
    const existing = this.events.get(occurrenceKey(occurrence));
    const event: LumaEvent = existing
      ? { ...copyEvent(existing), seq: this.seq + 1, count: existing.count + 1, lastTimestamp: at }
      : { ...occurrence, seq: this.seq + 1, count: 1, firstTimestamp: at, lastTimestamp: at };
    this.accept(event);
    tell(this.recordedListeners, event);
    return event;
  }

  /**
   * Shows an event numbered elsewhere (a shared log's database): it replaces the same
   * event's earlier occurrence, takes its place in seq order, and is told to subscribers. An event not newer
   * than the same one shown is ignored (false).
   */
  accept(event: LumaEvent): boolean {
    const key = occurrenceKey(event);
    const shown = this.events.get(key);
    // Already shown, or a newer occurrence is (the same event can arrive by two paths).
    if (shown && shown.seq >= event.seq) return false;
    this.events.delete(key);
    // The newest shown has seq this.seq: every other event is older, or replaced by a newer one.
    if (event.seq > this.seq) this.events.set(key, copyEvent(event));
    else this.insertInSeqOrder(key, copyEvent(event));
    this.seq = Math.max(this.seq, event.seq);
    for (const oldest of this.events.keys()) {
      if (this.events.size <= this.capacity) break;
      this.events.delete(oldest);
    }
    tell(this.listeners, event);
    return true;
  }

  /** One read late from another process goes before the newer ones, after those as old. */
  private insertInSeqOrder(key: string, event: LumaEvent): void {
    const entries = [...this.events];
    let at = entries.length;
    while (at > 0 && (entries[at - 1]?.[1].seq ?? 0) > event.seq) at -= 1;
    entries.splice(at, 0, [key, event]);
    this.events = new Map(entries);
  }

  list(filter: EventFilter = {}): LumaEvent[] {
    return [...this.events.values()]
      .filter(
        (event) =>
          (filter.kind === undefined || event.object.kind.toLowerCase() === filter.kind.toLowerCase()) &&
          (filter.name === undefined || event.object.name === filter.name) &&
          (filter.afterSeq === undefined || event.seq > filter.afterSeq),
      )
      .map(copyEvent);
  }

  subscribe(listener: (event: LumaEvent) => void): () => void {
    return subscribeTo(this.listeners, listener);
  }

  subscribeRecorded(listener: (event: LumaEvent) => void): () => void {
    return subscribeTo(this.recordedListeners, listener);
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Each subscription is distinct, so one listener subscribed twice is told twice and unsubscribed once each. */
export function subscribeTo<T>(listeners: Set<(value: T) => void>, listener: (value: T) => void): () => void {
  const subscription = (value: T): void => listener(value);
  listeners.add(subscription);
  return () => {
    listeners.delete(subscription);
  };
}

export function tell(listeners: ReadonlySet<(event: LumaEvent) => void>, event: LumaEvent): void {
  for (const listener of [...listeners]) {
    try {
      listener(copyEvent(event));
    } catch {
      // A failing listener must not break the one who records.
    }
  }
}

/** Records nothing: for code paths (and tests) that have no one to tell. */
export const NO_EVENTS: EventRecorder = { record: () => undefined };
