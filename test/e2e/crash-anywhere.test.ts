import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSummary, runCrashHarness } from '../support/crash/harness.js';
import { buildTestImage, removeInstanceContainers, testInstance } from '../support/docker.js';
import { removeInstanceImages } from '../support/images.js';
import { seedFrom } from '../support/seeded-random.js';

// SPEC §5: a controller killed at any moment restarts, adopts what it owns, starts no
// duplicate, leaves no orphan and bills every lease once. `make test` runs the CI-sized
// form (30 kills: each costs about 3 s on a CI machine, almost all of it Node loading
// Luma again); `make test-crash` a long one (LUMA_CRASH_KILLS, default 300 there).
// LUMA_CRASH_SEED replays a run.

const KILLS = Number(process.env.LUMA_CRASH_KILLS ?? 30);
const KEEP_STATE = process.env.LUMA_CRASH_KEEP === '1';

describe('crash anywhere', () => {
  const instance = testInstance('crash');
  let dir: string | undefined;

  beforeAll(async () => {
    await buildTestImage();
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    if (dir && !KEEP_STATE) await rm(dir, { recursive: true, force: true });
  });

  it(
    `survives ${KILLS} SIGKILLs of luma up under a mixed workload with every invariant holding`,
    async () => {
      const summary = await runCrashHarness({
        kills: KILLS,
        seed: seedFrom('LUMA_CRASH_SEED'),
        instance,
        log: (line) => process.stdout.write(`${line}\n`),
      });
      dir = summary.dir;
      process.stdout.write(`${describeSummary(summary)}\n`);
      expect(summary.convergeMs).toHaveLength(KILLS);
    },
    KILLS * 20_000 + 60_000,
  );
});
