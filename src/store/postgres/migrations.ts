import type pg from 'pg';

// The database schema, as an ordered list of numbered steps. At start every Luma process
// applies the steps the database has not seen yet, each in its own transaction, and
// records it in luma_migrations; an advisory lock makes processes starting together take
// turns, so a step never runs twice. A database that has steps this Luma does not know
// (a newer Luma migrated it) is refused rather than used with a schema it cannot read.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Any fixed number works: it only has to be the same for every Luma process. */
const MIGRATION_LOCK = 0x6c756d61_01;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'objects, their change log and the version counter',
    sql: `
      CREATE TABLE luma_store_version (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        version bigint NOT NULL
      );
      INSERT INTO luma_store_version (version) VALUES (0);
      CREATE TABLE luma_objects (
        kind text NOT NULL,
        name text NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (kind, name)
      );
      CREATE TABLE luma_changes (
        version bigint PRIMARY KEY,
        type text NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
        body jsonb NOT NULL
      );`,
  },
  {
    version: 2,
    name: 'the usage ledger',
    sql: `
      CREATE TABLE luma_usage (
        seq bigint PRIMARY KEY,
        lease_uid text NOT NULL UNIQUE,
        record jsonb NOT NULL
      );`,
  },
  {
    version: 3,
    name: "the controllers' leader lease",
    sql: `
      CREATE TABLE luma_leader (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        holder text,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
      );
      INSERT INTO luma_leader (holder, epoch, expires_at) VALUES (NULL, 0, 'epoch');`,
  },
  {
    version: 4,
    name: "the leader's proxy routes, followed by every other controller's proxy",
    sql: `
      CREATE TABLE luma_routes (
        service text PRIMARY KEY,
        route jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 5,
    name: 'the event log',
    sql: `
      CREATE TABLE luma_event_counter (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        seq bigint NOT NULL
      );
      INSERT INTO luma_event_counter (seq) VALUES (0);
      CREATE TABLE luma_events (
        occurrence text PRIMARY KEY,
        seq bigint NOT NULL UNIQUE,
        type text NOT NULL CHECK (type IN ('Normal', 'Warning')),
        reason text NOT NULL,
        message text NOT NULL,
        object_kind text NOT NULL,
        object_name text NOT NULL,
        source text NOT NULL,
        count integer NOT NULL,
        first_timestamp text NOT NULL,
        last_timestamp text NOT NULL
      );`,
  },
  {
    version: 6,
    name: "every controller's proxy activity, merged by the leader",
    sql: `
      CREATE TABLE luma_proxy_reporters (
        controller text PRIMARY KEY,
        seen_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE luma_proxy_activity (
        controller text NOT NULL,
        service text NOT NULL,
        last_activity_at bigint,
        in_flight integer NOT NULL,
        waiting integer NOT NULL,
        PRIMARY KEY (controller, service)
      );
      CREATE TABLE luma_proxy_outcomes (
        controller text NOT NULL,
        revision text NOT NULL,
        counts jsonb NOT NULL,
        PRIMARY KEY (controller, revision)
      );`,
  },
];

export class SchemaTooNewError extends Error {
  constructor(found: number, known: number) {
    super(
      `the database's Luma schema is at version ${found}, but this Luma knows versions up to ${known}: upgrade Luma (a newer one migrated this database)`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/** Applies the missing steps; returns the versions it applied. */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS luma_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM luma_migrations');
    const done = new Set(rows.map((row) => row.version));
    const known = Math.max(0, ...migrations.map((step) => step.version));
    const newest = Math.max(0, ...done);
    if (newest > known) throw new SchemaTooNewError(newest, known);
    const applied: number[] = [];
    for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(step.version)) continue;
      await applyStep(client, step);
      applied.push(step.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

async function applyStep(client: pg.PoolClient, step: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(step.sql);
    await client.query('INSERT INTO luma_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new Error(`migration ${step.version} (${step.name}) failed: ${(error as Error).message}`, { cause: error });
  }
}
