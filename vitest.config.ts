import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Four suites: unit (no Docker, fast, parallel), fuzz (the property and differential
// fuzzers, which take most of the CPU time of a unit run, kept apart so the unit suite
// stays under a minute), integration (real Docker engine) and e2e (real `luma` processes). Docker-backed suites run one file at a time so
// that the two cores of a CI machine are not fighting over the engine.
export default defineConfig({
  test: {
    // Vitest's default leaves a core to its own process (cores − 1: one worker on a 2-core
    // CI machine, so unit files ran one after the other); that process is near idle while
    // files run. Suites with fileParallelism off still run one file at a time.
    maxWorkers: availableParallelism(),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: ['test/unit/**/*.fuzz.test.ts'],
          // Unit files share their workers' module graph instead of each getting a fresh one:
          // 42 s instead of 89 s on 2 cores, because vitest's per-file transform, collect and
          // prepare cost more than the tests themselves. Safe while unit tests use no module
          // mocks, stubbed globals or fake timers (none do; they take injected clocks).
          isolate: false,
        },
      },
      { test: { name: 'fuzz', include: ['test/unit/**/*.fuzz.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Its own project below (root, a private dockerd): `make test` runs it after this one.
          exclude: ['test/e2e/engine-restart.test.ts'],
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
      {
        test: {
          name: 'engine-restart',
          include: ['test/e2e/engine-restart.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // `make test-cluster` only (root, three engines in network namespaces): not in `make test`.
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 400_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
