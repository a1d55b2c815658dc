import pg from 'pg';
import { ChangeListener } from '../store/postgres/change-listener.js';
import { migrate } from '../store/postgres/migrations.js';
import {
  DEFAULT_EVENT_CAPACITY,
  MemoryEventLog,
  sameOccurrence,
  subscribeTo,
  tell,
  type EventFilter,
  type EventLog,
  type EventObjectRef,
  type EventRecorder,
  type EventType,
  type LumaEvent,
} from './event-log.js';
import { appendEvent, EVENTS_CHANNEL, eventsAfter, newestEvents, type Occurrence } from './event-table.js';

// The event log of controllers that share a PostgreSQL store: what any of them records is
// stored in luma_events and shown by all of them, numbered by the database, so `luma get
// events`, the API's watch and the console show the same events on every controller and a
// watcher may resume on another one. Each process shows them from a copy in memory
// (list() is synchronous), read again when a notification says the table grew and after
// every reconnect, as the store's mirror is.
//
// While the database is away an event cannot be stored: the process shows it at once on
// its own (with the next seq it knows of) and stores it when the database is back, so
// DatabaseUnreachable is seen where it happened; the database then numbers it above every
// seq this process showed, so no watcher of this process skips anything.

const RETRY_MS = 2_000;

export interface PostgresEventLogOptions {
  capacity?: number;
  now?: () => number;
}

export class PostgresEventLog implements EventLog {
  private readonly shown: MemoryEventLog;
  private readonly recordedListeners = new Set<(event: LumaEvent) => void>();
  private readonly pending: Array<Occurrence & { shownAlone: boolean }> = [];
  private readonly capacity: number;
  private readonly now: () => number;
  /** The newest seq read from the table: reading resumes after it (own appends may be newer). */
  private readSeq = 0;
  private storing: Promise<void> | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private listener: ChangeListener | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    options: PostgresEventLogOptions,
  ) {
    this.capacity = options.capacity ?? DEFAULT_EVENT_CAPACITY;
    this.now = options.now ?? Date.now;
    this.shown = new MemoryEventLog({ capacity: this.capacity });
  }

  static async open(connectionString: string, options: PostgresEventLogOptions = {}): Promise<PostgresEventLog> {
    const pool = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 3_000, application_name: 'luma' });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const log = new PostgresEventLog(pool, options);
    const listener = new ChangeListener({
      connectionString,
      channel: EVENTS_CHANNEL,
      onChange: () => log.catchUp(),
      // Back after an outage: what was recorded meanwhile is stored now.
      onConnection: (error) => void (error === undefined && log.store()),
    });
    try {
      await migrate(pool);
      for (const event of await newestEvents(pool, log.capacity)) log.showRead(event);
      await listener.start();
    } catch (error) {
      await listener.stop();
      await pool.end();
      throw error;
    }
    log.listener = listener;
    return log;
  }

  recorder(source: string): EventRecorder {
    return { record: (object, type, reason, message) => this.record(source, object, type, reason, message) };
  }

  record(source: string, object: EventObjectRef, type: EventType, reason: string, message: string): void {
    if (this.closed) return;
    const at = new Date(this.now()).toISOString();
    this.pending.push({ source, object: { ...object }, type, reason, message, at, shownAlone: false });
    this.store();
  }

  list(filter?: EventFilter): LumaEvent[] {
    return this.shown.list(filter);
  }

  subscribe(listener: (event: LumaEvent) => void): () => void {
    return this.shown.subscribe(listener);
  }

  subscribeRecorded(listener: (event: LumaEvent) => void): () => void {
    return subscribeTo(this.recordedListeners, listener);
  }

  async settled(): Promise<void> {
    while (this.storing || this.reading) await Promise.all([this.storing, this.reading]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.listener?.stop();
    await this.pool.end();
  }

  /** Stores what is pending, in order, one at a time; on failure shows the rest alone and tries again later. */
  private store(): void {
    if (this.storing || this.closed) return;
    this.storing = this.storePending().finally(() => (this.storing = undefined));
  }

  private async storePending(): Promise<void> {
    for (let next = this.pending[0]; next; next = this.pending[0]) {
      let stored: LumaEvent;
      try {
        stored = await appendEvent(this.pool, next, this.shown.lastSeq, this.capacity);
      } catch {
        this.showAlone();
        this.retryLater();
        return;
      }
      this.pending.shift();
      this.shown.accept(stored);
      tell(this.recordedListeners, stored);
    }
  }

  /** What the database cannot take now is shown here at once, numbered after what this process showed. */
  private showAlone(): void {
    for (const occurrence of this.pending) {
      if (occurrence.shownAlone) continue;
      occurrence.shownAlone = true;
      const { at, shownAlone: _shown, ...event } = occurrence;
      const same = this.shown.list().find((shown) => sameOccurrence(shown, event));
      this.shown.accept({
        ...event,
        seq: this.shown.lastSeq + 1,
        count: (same?.count ?? 0) + 1,
        firstTimestamp: same?.firstTimestamp ?? at,
        lastTimestamp: at,
      });
    }
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.store(), RETRY_MS);
    this.retryTimer.unref();
  }

  /** Reads what was stored past the newest seq shown; one reader at a time, again if asked meanwhile. */
  private catchUp(): void {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readNewer()
      .catch(() => undefined) // The listener reconnects and asks again.
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.catchUp();
        }
      });
  }

  private async readNewer(): Promise<void> {
    for (;;) {
      const { events, complete } = await eventsAfter(this.pool, this.readSeq);
      for (const event of events) this.showRead(event);
      if (complete) return;
    }
  }

  private showRead(event: LumaEvent): void {
    this.readSeq = event.seq;
    // Shown already when it is this process's own append, which may have come back first.
    this.shown.accept(event);
  }
}
