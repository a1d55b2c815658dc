import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { EventObjectRef, EventType, LumaEvent } from './event-log.js';

// The statements of the event log in PostgreSQL (migration 5). One row per distinct event
// (its object, type, reason, message and source, hashed into `occurrence`); a repeat bumps
// its count, its last time and its seq. Every append takes the one row of
// luma_event_counter first, so seqs commit in the order they are handed out and a reader
// that resumes after the last seq it saw misses nothing. The newest `capacity` rows are kept.

export const EVENTS_CHANNEL = 'luma_events';
const PAGE = 500;

/** One thing that happened, as a process records it, before the database numbers it. */
export interface Occurrence {
  source: string;
  object: EventObjectRef;
  type: EventType;
  reason: string;
  message: string;
  /** When it happened, by the recording process's clock (ISO 8601). */
  at: string;
}

interface EventRow {
  seq: string;
  type: EventType;
  reason: string;
  message: string;
  object_kind: string;
  object_name: string;
  source: string;
  count: number;
  first_timestamp: string;
  last_timestamp: string;
}

const COLUMNS = 'seq, type, reason, message, object_kind, object_name, source, count, first_timestamp, last_timestamp';

function occurrenceKey(occurrence: Occurrence): string {
  const { object, type, reason, message, source } = occurrence;
  return createHash('sha256')
    .update(JSON.stringify([object.kind, object.name, type, reason, message, source]))
    .digest('hex');
}

function toEvent(row: EventRow): LumaEvent {
  return {
    seq: Number(row.seq),
    type: row.type,
    reason: row.reason,
    message: row.message,
    object: { kind: row.object_kind, name: row.object_name },
    source: row.source,
    count: row.count,
    firstTimestamp: row.first_timestamp,
    lastTimestamp: row.last_timestamp,
  };
}

/**
 * Stores an occurrence (a repeat is counted) and returns the event as stored. Its seq is
 * above `after` too: the highest seq the caller has shown, which may include events it
 * showed on its own while the database was away.
 */
export async function appendEvent(
  pool: pg.Pool,
  occurrence: Occurrence,
  after: number,
  capacity: number,
): Promise<LumaEvent> {
  const { rows } = await pool.query<EventRow>(
    `WITH next AS (
       UPDATE luma_event_counter SET seq = GREATEST(seq, $1) + 1 RETURNING seq
     ), stored AS (
       INSERT INTO luma_events (occurrence, ${COLUMNS})
       SELECT $2, next.seq, $3, $4, $5, $6, $7, $8, 1, $9, $9 FROM next
       ON CONFLICT (occurrence) DO UPDATE
         SET seq = EXCLUDED.seq, count = luma_events.count + 1, last_timestamp = EXCLUDED.last_timestamp
       RETURNING ${COLUMNS}
     )
     SELECT stored.*, pg_notify('${EVENTS_CHANNEL}', stored.seq::text) FROM stored`,
    [
      after,
      occurrenceKey(occurrence),
      occurrence.type,
      occurrence.reason,
      occurrence.message,
      occurrence.object.kind,
      occurrence.object.name,
      occurrence.source,
      occurrence.at,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error('the event was not stored: the luma_event_counter row is missing');
  const event = toEvent(row);
  // Apart from the append: one statement must not both update a repeat and prune it.
  await pool.query('DELETE FROM luma_events WHERE seq <= $1', [event.seq - capacity]);
  return event;
}

/** A page of the events stored after `after`, in seq order. */
export async function eventsAfter(pool: pg.Pool, after: number): Promise<{ events: LumaEvent[]; complete: boolean }> {
  const { rows } = await pool.query<EventRow>(
    `SELECT ${COLUMNS} FROM luma_events WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
    [after],
  );
  return { events: rows.map(toEvent), complete: rows.length < PAGE };
}

/** The newest `capacity` events, oldest first: what a process shows when it starts. */
export async function newestEvents(pool: pg.Pool, capacity: number): Promise<LumaEvent[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT * FROM (SELECT ${COLUMNS} FROM luma_events ORDER BY seq DESC LIMIT $1) newest ORDER BY seq`,
    [capacity],
  );
  return rows.map(toEvent);
}
