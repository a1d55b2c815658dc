import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLeadership, type ControlPlaneLeadership } from '../../../src/daemon/leadership.js';
import { migrate } from '../../../src/store/postgres/migrations.js';
import { createLogger } from '../../../src/util/logger.js';
import { startPostgres, type PrivatePostgres } from '../../support/postgres.js';
import { until } from '../../support/until.js';

// The control plane's side of the election on a real database: it acts once, the first
// time it leads; it is told it lost only when the database names another leader, not when
// the database is merely away; and a leader that stops hands the lease back.

let postgres: PrivatePostgres;
let url: string;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await migrate(pool);
  await pool.end();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

afterAll(async () => {
  await postgres?.remove();
});

interface Candidate {
  leadership: ControlPlaneLeadership;
  acted: number;
  lost: number[];
  log: () => string;
}

async function candidate(): Promise<Candidate> {
  const stream = new PassThrough();
  let log = '';
  stream.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const logger = createLogger({ stream, format: 'json', level: 'info' });
  const lost: number[] = [];
  const leadership = createLeadership(url, logger, (epoch) => lost.push(epoch));
  const result: Candidate = { leadership, acted: 0, lost, log: () => log };
  cleanup.push(() => leadership.stop());
  await leadership.start(async () => void result.acted++);
  return result;
}

async function query(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(sql);
  await client.end();
}

describe('control-plane leadership', () => {
  it('acts once when it leads; a standby reports the leader; a stopping leader hands over at once', async () => {
    const a = await candidate();
    await until(() => a.acted === 1, 2_000);
    const b = await candidate();
    expect(b.acted).toBe(0);
    const report = await b.leadership.report();
    expect(report).toMatchObject({ leader: false, id: b.leadership.id, current: { id: a.leadership.id } });
    expect((await a.leadership.report()).leader).toBe(true);

    await a.leadership.stop();
    // Without the hand-back the standby would wait for the 3 s lease to run out.
    expect(await until(() => b.acted === 1, 2_000)).toBeLessThan(2_000);
    expect(a.lost).toEqual([]);
  });

  it('is told it lost when the database names another leader', async () => {
    const a = await candidate();
    await until(() => a.acted === 1, 2_000);
    await query("UPDATE luma_leader SET holder = 'another', epoch = epoch + 1, expires_at = now() + interval '1 hour'");
    await until(() => a.lost.length === 1, 3_000);
    expect(a.leadership.leading()).toBe(false);
  });

  it('is not told it lost while the database is away, and leads again when it is back', async () => {
    await query("UPDATE luma_leader SET holder = NULL, expires_at = 'epoch'");
    const a = await candidate();
    await until(() => a.acted === 1, 2_000);
    await postgres.stop();
    await until(() => !a.leadership.leading(), 6_000);
    expect(a.log()).toContain('the lease lapsed unrenewed');
    await postgres.start();
    await until(() => a.leadership.leading(), 10_000);
    expect(a.lost).toEqual([]);
    expect(a.acted).toBe(1);
  });
});
