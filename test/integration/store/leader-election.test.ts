import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FencedError, LeaderElection, type Leadership } from '../../../src/store/postgres/leader-election.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { startPostgres, type PrivatePostgres } from '../../support/postgres.js';
import { project } from '../../unit/store/store.cases.js';
import { until } from '../../support/until.js';

// Two controllers' elections on one real database: one leads, the other takes over within
// 5 s of the leader's death, and a paused leader that resumes after losing writes nothing.

let postgres: PrivatePostgres;
let url: string;
const cleanup: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  await postgres?.remove();
});

async function controller(
  name: string,
): Promise<{ election: LeaderElection; store: PostgresStore; seen: Leadership[] }> {
  const store = await PostgresStore.open(url);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const seen: Leadership[] = [];
  const election = new LeaderElection({ pool, id: name, onChange: (leadership) => seen.push(leadership) });
  cleanup.push(
    () => store.close(),
    () => pool.end(),
    () => election.stop(),
  );
  await election.start();
  return { election, store, seen };
}

describe('leader election on PostgreSQL', () => {
  it('one leads, the other stands by and takes over within 5 s of its death, at a higher epoch', async () => {
    const a = await controller('a');
    const b = await controller('b');
    expect(a.election.leadership.leading).toBe(true);
    expect(b.election.leadership.leading).toBe(false);
    const first = a.election.leadership.epoch;

    a.election.stop(); // Dies: renews no more.
    const tookMs = await until(() => b.election.leadership.leading, 5_000);
    expect(tookMs).toBeLessThan(5_000);
    expect(b.election.leadership.epoch).toBeGreaterThan(first);
  });

  it('a leader paused past its lease writes nothing once resumed: the store refuses its epoch', async () => {
    const a = await controller('paused');
    // The last test's leader may hold the lease a little longer.
    await until(() => a.election.leadership.leading, 5_000);
    const fencedA = a.store.fenced(a.election.fence());
    await fencedA.apply(project('before'));
    expect(a.election.holds()).toBe(true);
    a.election.stop(); // Paused: no renewal, and it still believes it leads.
    expect(a.election.leadership.leading).toBe(true);
    const b = await controller('successor');
    await until(() => b.election.leadership.leading, 5_000);
    // By its own clock its lease has run out, so its Docker calls (FencedRuntime) stop too.
    expect(a.election.leadership.leading).toBe(true);
    expect(a.election.holds()).toBe(false);

    await expect(fencedA.apply(project('after'))).rejects.toBeInstanceOf(FencedError);
    await expect(fencedA.updateStatus('Project', 'before', { phase: 'Running' })).rejects.toBeInstanceOf(FencedError);
    const fencedB = b.store.fenced(b.election.fence());
    await fencedB.apply(project('by-successor'));
    // Writes without a fence (the API's, on any controller) still go through.
    await a.store.apply(project('from-api'));
    expect(b.store.has('Project', 'after')).toBe(false);
    expect(b.store.get('Project', 'before')?.status).toBeUndefined();
  });
});
