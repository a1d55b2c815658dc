import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, SchemaTooNewError } from '../../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { ConflictError, type WatchEvent } from '../../../src/store/store.js';
import { postgresPerTest } from '../../support/postgres.js';
import { until } from '../../support/until.js';
import { lease, project, rv, storeCases } from '../../unit/store/store.cases.js';

// The store suite every ObjectStore passes, against a real PostgreSQL (a private instance
// of Debian's, started for this file), then what only a shared database does: several
// processes' stores on one database, its schema migrations, a lost connection.
// It lives with the integration tests because it needs a real service started as root.

const db = postgresPerTest((url) => PostgresStore.open(url));

storeCases('PostgresStore', { open: (options) => PostgresStore.open(db.url(), options) });

describe('PostgresStore shared by several processes', () => {
  it("each store sees the other's writes, with watch events in version order", async () => {
    const [a, b] = [await db.open(), await db.open()];
    const seen: WatchEvent[] = [];
    b.watch((event) => seen.push(event));
    const { object } = await a.apply(project('web'));
    const running = await a.updateStatus('Project', 'web', { phase: 'Running' });
    const deleted = await a.delete('Project', 'web');
    await until(() => seen.length === 3);
    expect(seen).toEqual([
      { type: 'ADDED', object },
      { type: 'MODIFIED', object: running },
      { type: 'DELETED', object: deleted },
    ]);
    expect(b.get('Project', 'web')).toBeUndefined();
  });

  it('checks preconditions against the database, not the copy in memory', async () => {
    const [a, b] = [await db.open(), await db.open()];
    const { object } = await a.apply(project('web'));
    await until(() => b.has('Project', 'web'));
    await a.apply(project('web', { port: 1 }));
    // b may not have seen the change yet; the database has.
    const stale = b.apply(project('web', { port: 2 }), { resourceVersion: object.metadata.resourceVersion ?? '' });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await until(() => b.get('Project', 'web')?.spec.port === 1);
  });

  it('loses no read-modify-write when two stores change one status at once', async () => {
    const [a, b] = [await db.open(), await db.open()];
    await a.apply(lease('counter'));
    const bump = (store: PostgresStore): Promise<unknown> =>
      store.mutateStatus('Lease', 'counter', (current) => ({
        ...current.status,
        cost: (current.status?.cost ?? 0) + 1,
      }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 === 0 ? a : b)));
    await until(() => a.get('Lease', 'counter')?.status?.cost === 20);
    await until(() => b.get('Lease', 'counter')?.status?.cost === 20);
  });

  it('gives every write of the cluster its own version, and each store sees them all once', async () => {
    const stores = [await db.open(), await db.open(), await db.open()];
    const seen = stores.map(() => [] as number[]);
    stores.forEach((store, i) => store.watch((event) => seen[i]?.push(rv(event.object))));
    await Promise.all(stores.flatMap((store, i) => [0, 1, 2, 3].map((n) => store.apply(project(`p${i}-${n}`)))));
    await until(() => seen.every((versions) => versions.length === 12));
    for (const versions of seen) expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(seen[0]).size).toBe(12);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });
});

describe('PostgresStore after a lost connection', () => {
  it('catches up on what it missed while not listening, each change once and in order', async () => {
    const [a, b] = [await db.open(), await db.open()];
    const seen: string[] = [];
    a.watch((event) => seen.push(`${event.type} ${event.object.metadata.name} ${rv(event.object)}`));
    const admin = new pg.Client({ connectionString: db.url() });
    await admin.connect();
    // Every listening connection goes: notifications sent meanwhile reach no one.
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'luma-listen' AND datname = current_database()",
    );
    await admin.end();
    const written = [
      (await b.apply(project('one'))).object,
      (await b.apply(project('two'))).object,
      await b.delete('Project', 'one'),
    ];
    await until(() => seen.length === 3);
    expect(seen).toEqual([
      `ADDED one ${rv(written[0])}`,
      `ADDED two ${rv(written[1])}`,
      `DELETED one ${rv(written[2])}`,
    ]);
    await b.apply(project('three'));
    await until(() => a.has('Project', 'three'));
    expect(seen).toHaveLength(4);
  });

  it('reports the database lost and found, and converges once it is back', async () => {
    const states: boolean[] = [];
    const a = await PostgresStore.open(db.url(), { onConnection: (state) => states.push(state.connected) });
    db.adopt(a);
    const b = await db.open();
    await a.apply(project('before'));
    await db.instance().stop();
    await expect(a.apply(project('during'))).rejects.toThrow();
    await until(() => a.connectionState().connected === false);
    expect(a.get('Project', 'before')).toBeDefined();
    await db.instance().start();
    await b.apply(project('after'));
    await until(() => a.has('Project', 'after') && a.connectionState().connected, 10_000);
    expect(states).toEqual([false, true]);
    expect(a.has('Project', 'during')).toBe(false);
  });
});

describe('PostgresStore schema migrations', () => {
  it('records each step once, and a second start applies nothing', async () => {
    const pool = new pg.Pool({ connectionString: db.url() });
    try {
      expect(await migrate(pool)).toEqual(MIGRATIONS.map((step) => step.version));
      expect(await migrate(pool)).toEqual([]);
      const { rows } = await pool.query<{ version: number }>('SELECT version FROM luma_migrations ORDER BY version');
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((step) => step.version));
    } finally {
      await pool.end();
    }
  });

  it('processes starting together apply each step once', async () => {
    const stores = await Promise.all([0, 1, 2].map(() => PostgresStore.open(db.url())));
    db.adopt(...stores);
    const pool = new pg.Pool({ connectionString: db.url() });
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM luma_migrations');
    await pool.end();
    expect(Number(rows[0]?.n)).toBe(MIGRATIONS.length);
  });

  it('refuses a database migrated by a newer Luma, saying so', async () => {
    const pool = new pg.Pool({ connectionString: db.url() });
    try {
      const future = [...MIGRATIONS, { version: 999, name: 'from the future', sql: 'SELECT 1' }];
      await migrate(pool, future);
      await expect(migrate(pool)).rejects.toBeInstanceOf(SchemaTooNewError);
      await expect(PostgresStore.open(db.url())).rejects.toThrow(/schema is at version 999/);
    } finally {
      await pool.end();
    }
  });
});
