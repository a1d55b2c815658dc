import pg from 'pg';
import type { Kind, LumaObject, ObjectMeta, ObjectOfKind } from '../../model/types.js';
import { KeyedLock } from '../../util/keyed-lock.js';
import type { Decision } from '../object-rules.js';
import type { ObjectStore, WatchEvent, WatchListener } from '../store.js';
import { DecidingStore } from '../deciding-store.js';
import { ChangeListener } from './change-listener.js';
import { migrate } from './migrations.js';
import { StoreFeed } from './store-feed.js';
import { StoreConnection, type ConnectionState } from './store-connection.js';
import { writeChange } from './store-sql.js';

// The shared store: objects live in PostgreSQL, so any number of Luma processes can hold
// them at once. Reads are answered from an in-memory mirror (the interface's reads are
// synchronous) that follows the database's change log; writes are transactions that
// check their preconditions against the row in the database, never against the mirror,
// so two processes cannot overwrite each other. Each write returns (and its watch events
// are delivered) only once the mirror holds it and every change before it.

export interface PostgresStoreOptions {
  /** Told when a watch listener throws; by default a process warning is emitted. */
  onListenerError?: (error: unknown, event: WatchEvent) => void;
  /** Finalizers every new object of a kind starts with (as the file store's). */
  initialFinalizers?: Partial<Record<Kind, string[]>>;
  /** Told whenever the database is lost or found again. */
  onConnection?: (state: ConnectionState) => void;
}

/** Checked inside a write's transaction, after it holds the write lock: throws to refuse it. */
export type WriteFence = (client: pg.PoolClient) => Promise<void>;

/** What one store object and its fenced views share. */
interface Shared {
  connection: StoreConnection;
  listener: ChangeListener;
  feed: StoreFeed;
  /** This process's writes of one object run in turn, in call order, as in the file store. */
  objectLocks: KeyedLock;
  closed: boolean;
}

export class PostgresStore extends DecidingStore implements ObjectStore {
  private constructor(
    private readonly shared: Shared,
    private readonly options: PostgresStoreOptions,
    /** Passed by every write of a fenced view (the leading controller's). */
    private readonly fence?: WriteFence,
  ) {
    super();
  }

  static async open(connectionString: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const connection = new StoreConnection(connectionString, options.onConnection);
    const feed = new StoreFeed(connection, options.onListenerError);
    const listener = new ChangeListener({
      connectionString,
      onChange: () => feed.catchUp(),
      onConnection: (error) => connection.report(error),
    });
    try {
      await migrate(connection.pool);
      // Listening first: a change made while the snapshot loads is then read after it.
      await listener.start();
      await feed.resync();
    } catch (error) {
      await listener.stop();
      await feed.stop();
      await connection.close();
      throw error;
    }
    const shared: Shared = { connection, listener, feed, objectLocks: new KeyedLock(), closed: false };
    return new PostgresStore(shared, options);
  }

  /** Whether the database answers, as last seen by a query or the listening connection. */
  connectionState(): ConnectionState {
    return this.shared.connection.state();
  }

  get<K extends Kind>(kind: K, name: string): ObjectOfKind<K> | undefined {
    const object = this.shared.feed.objects(kind).get(name);
    return object === undefined ? undefined : (structuredClone(object) as ObjectOfKind<K>);
  }

  metadata(kind: Kind, name: string): ObjectMeta | undefined {
    const object = this.shared.feed.objects(kind).get(name);
    return object === undefined ? undefined : structuredClone(object.metadata);
  }

  resourceVersion(kind: Kind, name: string): string | undefined {
    return this.shared.feed.objects(kind).get(name)?.metadata.resourceVersion;
  }

  has(kind: Kind, name: string): boolean {
    return this.shared.feed.objects(kind).has(name);
  }

  names(kind: Kind): string[] {
    return [...this.shared.feed.objects(kind).keys()].sort();
  }

  list<K extends Kind>(kind: K): ObjectOfKind<K>[] {
    const bucket = this.shared.feed.objects(kind);
    return [...bucket.keys()].sort().map((name) => structuredClone(bucket.get(name)) as ObjectOfKind<K>);
  }

  protected initialFinalizers(kind: Kind): string[] | undefined {
    return this.options.initialFinalizers?.[kind];
  }

  watch(listener: WatchListener): () => void {
    return this.shared.feed.watch(listener);
  }

  /**
   * The same objects and watch, whose writes also pass `fence` inside their transaction:
   * what the leading controller writes through, so that it writes nothing once it has lost.
   * Closing the view closes nothing; the store itself is closed once.
   */
  fenced(fence: WriteFence): ObjectStore {
    const view = new PostgresStore(this.shared, this.options, fence);
    return { ...bindStore(view), close: () => Promise.resolve() };
  }

  async close(): Promise<void> {
    const { shared } = this;
    if (shared.closed) return;
    shared.closed = true;
    await shared.objectLocks.settled();
    await shared.listener.stop();
    await shared.feed.stop();
    await shared.connection.close();
  }

  /** Runs one write's transaction, in turn with this process's other writes of the object. */
  protected decideWrite<T>(
    kind: Kind,
    name: string,
    decide: (current: LumaObject | undefined) => Decision<T>,
  ): Promise<T> {
    const { shared } = this;
    if (shared.closed) return Promise.reject(new Error(`the store is closed; ${kind} "${name}" was not written`));
    return shared.objectLocks.run(`${kind}/${name}`, async () => {
      const outcome = await shared.connection.transaction((client) =>
        writeChange(client, { kind, name, decide, fence: this.fence, after: shared.feed.version }),
      );
      await shared.feed.accept(outcome.changes);
      return structuredClone(outcome.answer);
    });
  }
}

/** The store's methods bound to it, for a view object. */
function bindStore(store: PostgresStore): ObjectStore {
  return {
    get: (kind, name) => store.get(kind, name),
    metadata: (kind, name) => store.metadata(kind, name),
    resourceVersion: (kind, name) => store.resourceVersion(kind, name),
    list: (kind) => store.list(kind),
    has: (kind, name) => store.has(kind, name),
    names: (kind) => store.names(kind),
    apply: (object, options) => store.apply(object, options),
    updateStatus: (kind, name, status) => store.updateStatus(kind, name, status),
    mutateStatus: (kind, name, change) => store.mutateStatus(kind, name, change),
    setFinalizers: (kind, name, finalizers) => store.setFinalizers(kind, name, finalizers),
    delete: (kind, name, options) => store.delete(kind, name, options),
    watch: (listener) => store.watch(listener),
    close: () => store.close(),
  };
}
