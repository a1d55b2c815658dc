import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/** The projects named on the command line (`--project unit`, `--project=unit`), none if all run. */
function projectsAsked(argv: readonly string[]): string[] {
  return argv.flatMap((arg, index) => {
    if (arg.startsWith('--project=')) return [arg.slice('--project='.length)];
    const next = argv[index + 1];
    return arg === '--project' && next !== undefined ? [next] : [];
  });
}

// Vitest 3 decides from this root config alone whether its worker processes are reused
// from one test file to the next (a project's `isolate` only decides whether a reused
// worker forgets its modules; vitest-dev/vitest#6258). Reused, the unit suite took 59 s of
// CPU instead of 148 s: a fresh process per file loads vitest and the sources again. The
// unit project is written for it (below); the Docker and process suites are not, so the
// workers are reused only when the unit project alone is asked for, as `make test-unit`
// and `make test` do.
const asked = projectsAsked(process.argv);
const unitAlone = asked.length > 0 && asked.every((name) => name === 'unit');

// Four suites: unit (no Docker, fast, parallel), fuzz (the property and differential
// fuzzers, which take most of the CPU time of a unit run, kept apart so the unit suite
// stays under a minute), integration (real Docker engine) and e2e (real `luma` processes).
// Docker-backed files run two at a time on two cores too: each file has its own instance
// label, state directory and ports, so files share the engine but nothing in it.
export default defineConfig({
  test: {
    // Vitest's default leaves a core to its own process (cores − 1: one worker on a 2-core
    // CI machine, so every suite ran one file after the other); that process is near idle
    // while files run. Vitest 3 takes the pool's size and fileParallelism from this root
    // config only, not from a project's, so the projects below set neither. In the CI run
    // of 2026-12-07 18:00 this took e2e from 1,086 s to 644 s and unit from 139 s to 82 s.
    maxWorkers: availableParallelism(),
    poolOptions: { forks: { isolate: !unitAlone } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: ['test/unit/**/*.fuzz.test.ts'],
          // Unit files share their workers' processes and module graph instead of each
          // getting fresh ones (with `poolOptions` above): vitest's per-file start, collect
          // and prepare cost more than the tests themselves. Safe while unit tests use no
          // module mocks, stubbed globals or fake timers (none do; they take injected clocks).
          isolate: false,
        },
      },
      { test: { name: 'fuzz', include: ['test/unit/**/*.fuzz.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
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
          testTimeout: 400_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
