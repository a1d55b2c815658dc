import { reportSignedOut } from './http.js';

// A live collection that follows one of the API's watch streams (server-sent events):
// the present as ADDED messages, SYNCED, then every change. When the stream drops, the
// feed keeps showing what it last had, says it is reconnecting, and watches again with a
// growing pause; the fresh present is gathered until SYNCED and merged in by version, so
// items whose version did not change keep their identity (and the views do not redraw
// them), and items that went away while the stream was down are dropped.

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'signed-out';

export interface FeedSpec<T> {
  url: string;
  /** The SSE event names that carry an item to add or replace. */
  upserts: readonly string[];
  /** The SSE event name that carries an item to drop, if any. */
  removes?: string;
  key(item: T): string;
  version(item: T): string;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 8_000;
const MAX_REMOVED = 200;

export class Feed<T> {
  private items = new Map<string, T>();
  /** The last state of items deleted while watched: a released lease's bill outlives its object. */
  private readonly removed = new Map<string, T>();
  private pending: Map<string, T> | undefined;
  private source: EventSource | undefined;
  private retryMs = FIRST_RETRY_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<() => void>();
  state: ConnectionState = 'connecting';
  /** Bumped on every change, so that hooks can tell a new snapshot from the last one. */
  revision = 0;

  constructor(private readonly spec: FeedSpec<T>) {}

  list(): T[] {
    return [...this.items.values()];
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** The last state of an item deleted since the console was opened. */
  lastSeen(key: string): T | undefined {
    return this.items.get(key) ?? this.removed.get(key);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.source && this.timer === undefined) this.open();
    return () => this.listeners.delete(listener);
  }

  private open(): void {
    this.pending = new Map();
    const source = new EventSource(this.spec.url, { withCredentials: true });
    this.source = source;
    for (const name of this.spec.upserts) source.addEventListener(name, (message) => this.upsert(message));
    if (this.spec.removes) source.addEventListener(this.spec.removes, (message) => this.remove(message));
    source.addEventListener('SYNCED', () => this.synced());
    source.addEventListener('ERROR', () => this.dropped());
    source.onerror = () => this.dropped();
  }

  private upsert(message: MessageEvent<string>): void {
    const item = JSON.parse(message.data) as T;
    const key = this.spec.key(item);
    if (this.pending) this.pending.set(key, item);
    else {
      this.items.delete(key);
      this.items.set(key, item);
      this.changed();
    }
  }

  private remove(message: MessageEvent<string>): void {
    const item = JSON.parse(message.data) as T;
    const key = this.spec.key(item);
    this.removed.set(key, item);
    if (this.removed.size > MAX_REMOVED) this.removed.delete(this.removed.keys().next().value as string);
    if (this.pending) this.pending.delete(key);
    else if (this.items.delete(key)) this.changed();
  }

  private synced(): void {
    const fresh = this.pending ?? new Map<string, T>();
    this.pending = undefined;
    const merged = new Map<string, T>();
    for (const [key, item] of fresh) {
      const known = this.items.get(key);
      merged.set(key, known && this.spec.version(known) === this.spec.version(item) ? known : item);
    }
    this.items = merged;
    this.retryMs = FIRST_RETRY_MS;
    this.state = 'live';
    this.changed();
  }

  /** EventSource retries on its own without telling why; the feed retries itself, after asking whether the session is gone. */
  private dropped(): void {
    this.source?.close();
    this.source = undefined;
    this.pending = undefined;
    this.state = 'reconnecting';
    this.changed();
    void this.sessionGone().then((gone) => {
      if (gone) {
        this.state = 'signed-out';
        this.changed();
        reportSignedOut();
        return;
      }
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.open();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    });
  }

  private async sessionGone(): Promise<boolean> {
    try {
      const response = await fetch(this.spec.url.replace(/[?&]watch=true/, ''), { credentials: 'same-origin' });
      return response.status === 401;
    } catch {
      return false;
    }
  }

  /** After signing in again: watch afresh. */
  restart(): void {
    this.source?.close();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'connecting';
    this.open();
  }

  private changed(): void {
    this.revision += 1;
    for (const listener of [...this.listeners]) listener();
  }
}
