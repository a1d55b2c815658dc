import type pg from 'pg';
import type { Kind, LumaObject } from '../../model/types.js';
import { withResourceVersion, type Decision } from '../object-rules.js';
import type { WatchEventType } from '../store.js';
import { CHANGES_CHANNEL } from './change-listener.js';
import type { Change } from './mirror.js';

// The statements of the PostgreSQL store. Every write locks the one row of
// luma_store_version first: writes of the whole cluster take turns there, so the
// resourceVersion each takes is one more than the last committed one, versions commit in
// order and the change log has no gaps, which is what lets a reader resume from the last
// version it saw. The write then reads the object's row (the precondition is checked
// against the database, not a cache), writes the row and the change, and notifies.

export interface WriteRequest<T> {
  kind: Kind;
  name: string;
  decide: (current: LumaObject | undefined) => Decision<T>;
  fence?: (client: pg.PoolClient) => Promise<void>;
  /** The version the caller's mirror holds: changes after it are returned too. */
  after: number;
}

export interface WriteOutcome<T> {
  answer: T;
  /** Changes the caller had not seen, this write's last. */
  changes: Change[];
}

interface ChangeRow {
  version: string;
  type: WatchEventType;
  body: LumaObject;
}

const CHANGE_PAGE = 500;
/** The change log keeps this many versions for readers that were away; older ones are pruned. */
const CHANGES_KEPT = 10_000;
const PRUNE_EVERY = 1_000;

export async function writeChange<T>(client: pg.PoolClient, request: WriteRequest<T>): Promise<WriteOutcome<T>> {
  const { rows: counter } = await client.query<{ version: string }>(
    'SELECT version FROM luma_store_version FOR UPDATE',
  );
  await request.fence?.(client);
  const version = Number(counter[0]?.version ?? 0) + 1;
  const { rows } = await client.query<{ body: LumaObject }>(
    'SELECT body FROM luma_objects WHERE kind = $1 AND name = $2',
    [request.kind, request.name],
  );
  const decision = request.decide(rows[0]?.body);
  const missed = await changesBetween(client, request.after, version);
  if (!('put' in decision) && !('remove' in decision)) return { answer: decision.answer, changes: missed };

  const change: Change =
    'put' in decision
      ? { version, type: decision.type, object: withResourceVersion(decision.put, version) }
      : { version, type: 'DELETED', object: withResourceVersion(decision.remove, version) };
  await storeChange(client, change);
  return { answer: decision.answer(change.object), changes: [...missed, change] };
}

async function storeChange(client: pg.PoolClient, change: Change): Promise<void> {
  const { kind, metadata } = change.object;
  if (change.type === 'DELETED') {
    await client.query('DELETE FROM luma_objects WHERE kind = $1 AND name = $2', [kind, metadata.name]);
  } else {
    await client.query(
      `INSERT INTO luma_objects (kind, name, body) VALUES ($1, $2, $3)
       ON CONFLICT (kind, name) DO UPDATE SET body = EXCLUDED.body`,
      [kind, metadata.name, change.object],
    );
  }
  await client.query('INSERT INTO luma_changes (version, type, body) VALUES ($1, $2, $3)', [
    change.version,
    change.type,
    change.object,
  ]);
  await client.query('UPDATE luma_store_version SET version = $1', [change.version]);
  if (change.version % PRUNE_EVERY === 0)
    await client.query('DELETE FROM luma_changes WHERE version <= $1', [change.version - CHANGES_KEPT]);
  await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, String(change.version)]);
}

async function changesBetween(client: pg.ClientBase, after: number, before: number): Promise<Change[]> {
  const { rows } = await client.query<ChangeRow>(
    'SELECT version, type, body FROM luma_changes WHERE version > $1 AND version < $2 ORDER BY version',
    [after, before],
  );
  return rows.map(toChange);
}

function toChange(row: ChangeRow): Change {
  return { version: Number(row.version), type: row.type, object: row.body };
}

/**
 * A page of the change log after `after`. `oldest` is the first version the log still
 * holds past `after`: above `after + 1`, what the reader missed was pruned.
 */
export async function loadChanges(
  pool: pg.Pool,
  after: number,
): Promise<{ changes: Change[]; complete: boolean; oldest: number | undefined }> {
  const { rows } = await pool.query<ChangeRow>(
    'SELECT version, type, body FROM luma_changes WHERE version > $1 ORDER BY version LIMIT $2',
    [after, CHANGE_PAGE],
  );
  if (rows.length > 0) {
    const changes = rows.map(toChange);
    return { changes, complete: rows.length < CHANGE_PAGE, oldest: changes[0]?.version };
  }
  const { rows: counter } = await pool.query<{ version: string }>('SELECT version FROM luma_store_version');
  const current = Number(counter[0]?.version ?? 0);
  return { changes: [], complete: true, oldest: current > after ? current + 1 : undefined };
}

/** Every object and the version they are at, read in one consistent view. */
export async function loadSnapshot(pool: pg.Pool): Promise<{ objects: LumaObject[]; version: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: counter } = await client.query<{ version: string }>('SELECT version FROM luma_store_version');
    const { rows } = await client.query<{ body: LumaObject }>('SELECT body FROM luma_objects ORDER BY kind, name');
    await client.query('COMMIT');
    return { objects: rows.map((row) => row.body), version: Number(counter[0]?.version ?? 0) };
  } finally {
    client.release();
  }
}
