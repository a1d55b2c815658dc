import { ensureApiToken } from '../api/api-token.js';
import { MemoryEventLog, type EventLog } from '../events/event-log.js';
import { PostgresEventLog } from '../events/postgres-event-log.js';
import { LEASE_FINALIZER } from '../controller/lease-reconciler.js';
import { PROJECT_FINALIZER } from '../controller/project-reconciler.js';
import { FileStore } from '../store/file-store.js';
import { PostgresStore, type WriteFence } from '../store/postgres/postgres-store.js';
import type { ConnectionState } from '../store/postgres/store-connection.js';
import type { ObjectStore } from '../store/store.js';
import { PostgresLedger } from '../usage/postgres-ledger.js';
import { ledgerPath, UsageLedger, type Ledger } from '../usage/ledger.js';
import type { Logger } from '../util/logger.js';

// Where the control plane keeps objects and the usage ledger: files in the state
// directory (the embedded default) or, with `--store postgres://…`, a PostgreSQL database
// that several controllers share. The API token stays in the state directory either way.

export interface OpenedState {
  store: ObjectStore;
  ledger: Ledger;
  /** In memory with files; in the database, the same on every controller, with PostgreSQL. */
  events: EventLog;
  token: string;
  /** The database's health when the store is PostgreSQL; undefined for the file store. */
  database?: () => ConnectionState;
  /** A view of the PostgreSQL store whose writes pass `fence` (the leading controller's); undefined for files. */
  fenced?: (fence: WriteFence) => ObjectStore;
}

const INITIAL_FINALIZERS = { Lease: [LEASE_FINALIZER], Project: [PROJECT_FINALIZER] };

/** What is opened is closed again when a later part fails. */
export async function openState(
  stateDir: string,
  storeUrl: string | undefined,
  logger: Logger,
  onDatabase?: (state: ConnectionState) => void,
): Promise<OpenedState> {
  const opened = storeUrl ? await openPostgres(storeUrl, onDatabase) : await openFiles(stateDir, logger);
  try {
    return { ...opened, token: await ensureApiToken(stateDir) };
  } catch (error) {
    await opened.events.close();
    await opened.ledger.close();
    await opened.store.close();
    throw error;
  }
}

async function openFiles(stateDir: string, logger: Logger): Promise<Omit<OpenedState, 'token'>> {
  const store = await FileStore.open(stateDir, { initialFinalizers: INITIAL_FINALIZERS });
  try {
    const ledger = await UsageLedger.open(ledgerPath(stateDir), {
      onWarning: (message) => logger.warn({ component: 'usage' }, message),
    });
    return { store, ledger, events: new MemoryEventLog() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function openPostgres(
  url: string,
  onDatabase?: (state: ConnectionState) => void,
): Promise<Omit<OpenedState, 'token'>> {
  const store = await PostgresStore.open(url, {
    initialFinalizers: INITIAL_FINALIZERS,
    ...(onDatabase ? { onConnection: onDatabase } : {}),
  });
  let ledger: Ledger | undefined;
  try {
    ledger = await PostgresLedger.open(url);
    const events = await PostgresEventLog.open(url);
    return { store, ledger, events, database: () => store.connectionState(), fenced: (fence) => store.fenced(fence) };
  } catch (error) {
    await ledger?.close();
    await store.close();
    throw error;
  }
}
