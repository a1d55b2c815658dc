import type { Kind, LumaObject } from '../../model/types.js';
import type { WatchEvent, WatchListener } from '../store.js';
import { WatchListeners } from '../watch-listeners.js';
import { Mirror, type Change } from './mirror.js';
import type { StoreConnection } from './store-connection.js';
import { loadChanges, loadSnapshot } from './store-sql.js';

// What a PostgreSQL store's reads and watches are fed from: the mirror, kept up with the
// change log, and the watch listeners it tells. Changes come from this process's own
// writes (their transaction reads what it missed) and from the change log when a
// notification says another process wrote; either way the mirror applies each once.

export class StoreFeed {
  private readonly mirror = new Mirror();
  private readonly listeners: WatchListeners;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private stopped = false;

  constructor(
    private readonly connection: StoreConnection,
    onListenerError?: (error: unknown, event: WatchEvent) => void,
  ) {
    this.listeners = new WatchListeners(onListenerError);
  }

  get version(): number {
    return this.mirror.version;
  }

  objects(kind: Kind): ReadonlyMap<string, LumaObject> {
    return this.mirror.bucket(kind);
  }

  watch(listener: WatchListener): () => void {
    return this.listeners.add(listener);
  }

  /** Applies changes a write brought, and starts again from a snapshot if one is still missing. */
  async accept(changes: readonly Change[]): Promise<void> {
    this.emit(this.mirror.accept(changes));
    if (this.mirror.hasGap()) await this.resync();
  }

  /** Loads every object as the database holds it now. */
  async resync(): Promise<void> {
    const snapshot = await loadSnapshot(this.connection.pool);
    this.emit(this.mirror.reset(snapshot.objects, snapshot.version));
  }

  /** Reads the change log past the mirror's version; one reader at a time, again if asked meanwhile. */
  catchUp(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readChanges()
      .catch((error: unknown) => this.connection.report(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.catchUp();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reading;
  }

  private async readChanges(): Promise<void> {
    for (;;) {
      const { changes, complete, oldest } = await loadChanges(this.connection.pool, this.mirror.version);
      // The log was pruned past what the mirror holds: start again from a snapshot.
      if (oldest !== undefined && oldest > this.mirror.version + 1) return this.resync();
      this.emit(this.mirror.accept(changes));
      if (complete) return;
    }
  }

  private emit(events: readonly WatchEvent[]): void {
    for (const event of events) this.listeners.emit(event);
  }
}
