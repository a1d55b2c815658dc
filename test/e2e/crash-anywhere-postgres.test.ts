import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSummary, runCrashHarness } from '../support/crash/harness.js';
import { buildTestImage, removeInstanceContainers, testInstance } from '../support/docker.js';
import { removeInstanceImages } from '../support/images.js';
import { startPostgres, type PrivatePostgres } from '../support/postgres.js';
import { seedFrom } from '../support/seeded-random.js';

// The crash harness of crash-anywhere.test.ts on the PostgreSQL store (issue 22): `luma up
// --store postgres://` SIGKILLed at random moments under the mixed workload, its objects,
// events and ledger in a private PostgreSQL. A restarted process must first win the
// election (the killed one's 3 s lease runs out), then adopt and converge with every
// invariant holding; the ledger is read from luma_usage. `make test` runs a short form
// (10 kills); `make test-crash-postgres` 50 (LUMA_CRASH_KILLS). LUMA_CRASH_SEED replays.

const KILLS = Number(process.env.LUMA_CRASH_KILLS ?? 10);
const KEEP_STATE = process.env.LUMA_CRASH_KEEP === '1';

describe('crash anywhere on PostgreSQL', () => {
  const instance = testInstance('crashpg');
  let postgres: PrivatePostgres;
  let dir: string | undefined;

  beforeAll(async () => {
    await buildTestImage();
    postgres = await startPostgres();
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    await postgres?.remove();
    if (dir && !KEEP_STATE) await rm(dir, { recursive: true, force: true });
  });

  it(
    `survives ${KILLS} SIGKILLs of luma up --store postgres:// with every invariant holding`,
    async () => {
      const url = await postgres.createDatabase();
      const readLedger = async (): Promise<Map<string, number>> => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client
            .query<{ lease_uid: string; records: string }>(
              'SELECT lease_uid, count(*) AS records FROM luma_usage GROUP BY lease_uid',
            )
            .catch(() => ({ rows: [] })); // Before the first start has migrated the schema.
          return new Map(rows.map((row) => [row.lease_uid, Number(row.records)]));
        } finally {
          await client.end();
        }
      };
      const summary = await runCrashHarness({
        kills: KILLS,
        seed: seedFrom('LUMA_CRASH_SEED'),
        instance,
        store: { url, readLedger },
        log: (line) => process.stdout.write(`${line}\n`),
      });
      dir = summary.dir;
      process.stdout.write(`${describeSummary(summary)}\n`);
      expect(summary.convergeMs).toHaveLength(KILLS);
    },
    KILLS * 25_000 + 90_000,
  );
});
