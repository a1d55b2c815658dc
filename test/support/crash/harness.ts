import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { launchLuma, tempDir, type LumaProcess } from '../luma.js';
import { seededRandom } from '../seeded-random.js';
import {
  convergedViolations,
  observe,
  readLedgerCounts,
  recordHistory,
  safetyViolations,
  type LeaseHistory,
  type LedgerReader,
} from './invariants.js';
import { CRASH_CONFIG, prepareWorkload, seedApiProjects } from './workload.js';

// Crash anywhere (SPEC §5): runs the mixed workload against `luma up`, SIGKILLs it at a
// random moment (sometimes while it is still starting), starts it again on the same state
// directory, and checks the invariants after every restart. Every random choice comes
// from one seed, printed first, so a failing run can be replayed with LUMA_CRASH_SEED.

export interface CrashRunOptions {
  kills: number;
  seed: number;
  instance: string;
  /** Where progress lines go. */
  log: (line: string) => void;
  /** How long a restarted controller may take to converge. */
  convergeTimeoutMs?: number;
  /**
   * `--store` for `luma up` (a postgres:// URL) with the ledger's reader there; the state
   * directory's files when absent.
   */
  store?: { url: string; readLedger: LedgerReader };
}

export interface CrashRunSummary {
  seed: number;
  kills: number;
  killedDuringStartup: number;
  operations: Map<string, number>;
  convergeMs: number[];
  /** From spawning `luma up` to its "up" line. */
  restartsMs: number[];
  totalMs: number;
  ledgerRecords: number;
  dir: string;
}

const STARTUP_KILL_CHANCE = 0.15;
const MAX_KILL_DELAY_MS = 1_500;
const POLL_MS = 100;
/** A restart that takes longer is a hang, not a slow machine. */
const START_TIMEOUT_MS = 60_000;
/** An image build on a 2-core machine shared with other test runs can take a minute by itself. */
const CONVERGE_TIMEOUT_MS = 120_000;

export class InvariantViolation extends Error {
  constructor(seed: number, kill: number, violations: string[], output: string) {
    super(
      `after kill ${kill} (replay with LUMA_CRASH_SEED=${seed}):\n  ${violations.join('\n  ')}\n--- luma output (tail) ---\n${output.slice(-4_000)}`,
    );
    this.name = 'InvariantViolation';
  }
}

export async function runCrashHarness(options: CrashRunOptions): Promise<CrashRunSummary> {
  const began = Date.now();
  const random = seededRandom(options.seed);
  const dir = await tempDir('crash');
  const stateDir = path.join(dir, 'state');
  await mkdir(stateDir);
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, CRASH_CONFIG);
  const workload = await prepareWorkload(dir);
  const processOptions = {
    stateDir,
    manifests: workload.manifests,
    instance: options.instance,
    config,
    startTimeoutMs: START_TIMEOUT_MS,
    ...(options.store ? { args: ['--store', options.store.url] } : {}),
  };
  const readLedger = options.store?.readLedger ?? (() => readLedgerCounts(stateDir));
  const history: LeaseHistory = { created: new Map(), started: new Set() };
  const convergeMs: number[] = [];
  const restartsMs: number[] = [];
  let killedDuringStartup = 0;
  options.log(
    `crash harness: seed ${options.seed} (replay with LUMA_CRASH_SEED=${options.seed}), ${options.kills} kills, state ${stateDir}${options.store ? ', store PostgreSQL' : ''}`,
  );

  let luma: LumaProcess = await launchLuma(processOptions).ready;
  await seedApiProjects(luma);
  await converge(luma, 0);

  for (let kill = 1; kill <= options.kills; kill += 1) {
    const delayMs = random.int(0, MAX_KILL_DELAY_MS);
    const burst = workload.burst(luma, random, random.int(1, 5));
    await sleep(delayMs);
    await luma.kill();
    await burst;
    if (random.chance(0.3)) await workload.editDirectory(random);

    if (random.chance(STARTUP_KILL_CHANCE)) {
      // A crash during start-up: while the store opens, the directory is applied or the
      // first resync runs.
      const early = launchLuma(processOptions);
      await sleep(random.int(50, 900));
      await early.kill();
      killedDuringStartup += 1;
    }
    const restartBegan = Date.now();
    luma = await launchLuma(processOptions).ready;
    const restartMs = Date.now() - restartBegan;
    const ms = await converge(luma, kill);
    convergeMs.push(ms);
    restartsMs.push(restartMs);
    if (process.env.LUMA_CRASH_VERBOSE === '1' || kill % 10 === 0 || kill === options.kills) {
      options.log(
        `  kill ${kill}/${options.kills} (after ${delayMs} ms): restarted in ${restartMs} ms, converged in ${ms} ms`,
      );
    }
  }
  const final = await observe(luma.api, readLedger, options.instance);
  await luma.stop();
  return {
    seed: options.seed,
    kills: options.kills,
    killedDuringStartup,
    operations: workload.counts,
    convergeMs,
    restartsMs,
    totalMs: Date.now() - began,
    ledgerRecords: [...final.ledgerCounts.values()].reduce((sum, count) => sum + count, 0),
    dir,
  };

  /** Polls until every invariant holds; a safety violation fails at once. */
  async function converge(current: LumaProcess, kill: number): Promise<number> {
    const start = Date.now();
    const deadline = start + (options.convergeTimeoutMs ?? CONVERGE_TIMEOUT_MS);
    let violations: string[] = [];
    let slowest: string[] = [];
    for (;;) {
      try {
        const view = await observe(current.api, readLedger, options.instance);
        recordHistory(view, history);
        const unsafe = safetyViolations(view, history);
        if (unsafe.length > 0) throw new InvariantViolation(options.seed, kill, unsafe, current.output());
        violations = convergedViolations(view, history);
        if (violations.length === 0) {
          if (process.env.LUMA_CRASH_VERBOSE === '1' && slowest.length > 0)
            options.log(`    last waited for: ${slowest.join('; ')}`);
          return Date.now() - start;
        }
        slowest = violations;
      } catch (error) {
        if (error instanceof InvariantViolation) throw error;
        violations = [`the store could not be read through the API: ${String(error)}`];
      }
      if (Date.now() > deadline) throw new InvariantViolation(options.seed, kill, violations, current.output());
      await sleep(POLL_MS);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeSummary(summary: CrashRunSummary): string {
  const quantiles = (values: number[]): string => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`;
  };
  const operations = [...summary.operations]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  return [
    `crash harness: seed ${summary.seed}: ${summary.kills} kills (${summary.killedDuringStartup} more during start-up), every invariant held`,
    `  operations started: ${operations}`,
    `  restart (spawn to up): ${quantiles(summary.restartsMs)}`,
    `  convergence after restart: ${quantiles(summary.convergeMs)}`,
    `  ledger records: ${summary.ledgerRecords}; total ${(summary.totalMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
