// bench/sync-pass: what one pass of the watched directory costs the event loop it shares
// with the proxy, measured in the process (no Docker, no `luma up`).
//
//   npx tsx bench/sync-pass.ts [--files 1000] [--rounds 3] [--stretches] [--cpu-prof DIR]
//
// A real file store and DirectorySync (its scan in the worker process, as in `luma up`)
// over FILES manifest files of one Project each. After a first pass that creates them,
// round by round: a pass with nothing changed, and a full pass (every file's comment
// changed). For each pass it prints the wall time and the main thread's event-loop delay
// (perf_hooks.monitorEventLoopDelay at 1 ms resolution: p50, p99, max): the delay a
// request arriving during the pass waits before the proxy sees it. bench/scale --files
// measures the proxy's latency itself; this is the direct signal, quick to repeat. With it,
// the CPU time of the main thread (on a core, and runnable but waiting for one), of the
// process's other threads and of the scan's worker process, from /proc (lib/thread-times.ts):
// on a loaded machine, the main thread's CPU per pass compares builds where wall times do not.
// `--stretches` runs every pass under the inspector's profiler (a sample every 200 µs,
// which costs the thread some CPU of its own) and prints the main thread's longest busy
// stretches with what ran in them (lib/busy-stretches.ts); `--cpu-prof DIR` writes the
// profile of each pass of the last round.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { DEFAULT_SETTINGS } from '../src/config/settings.js';
import { MemoryEventLog } from '../src/events/event-log.js';
import { FileStore } from '../src/store/file-store.js';
import { DirectorySync } from '../src/sync/directory-sync.js';
import { InventoryFile } from '../src/sync/inventory.js';
import { silentLogger } from '../src/util/logger.js';
import { formatWindow, windowFigures, type WindowFigures } from './lib/busy-stretches.js';
import { option } from './lib/common.js';
import { readThreadTimes, threadTimesDelta, type ThreadTimesDelta } from './lib/thread-times.js';

const FILES = option('--files', 1_000);
const ROUNDS = option('--rounds', 3);
/** Every pass under the profiler, and its longest busy stretches printed. */
const STRETCHES = process.argv.includes('--stretches');
const CPU_PROF_DIR = process.argv.includes('--cpu-prof')
  ? process.argv[process.argv.indexOf('--cpu-prof') + 1]
  : undefined;

function manifest(index: number, comment: string): string {
  const name = `p${String(index).padStart(5, '0')}`;
  return [
    `# ${comment}`,
    'apiVersion: luma.dev/v1alpha1',
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  image: busybox',
    `  hostnames: [${name}.scale.localhost]`,
    '  scaling: { minInstances: 0, idleTimeout: 10m }',
    '',
  ].join('\n');
}

async function writeFiles(dir: string, comment: string): Promise<void> {
  for (let start = 0; start < FILES; start += 200) {
    const batch = Array.from({ length: Math.min(200, FILES - start) }, (_, offset) => start + offset);
    await Promise.all(batch.map((index) => writeFile(path.join(dir, `p${index}.yaml`), manifest(index, comment))));
  }
}

/** Microseconds on the monotonic clock V8's profiles use. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

interface PassFigures {
  wallMs: number;
  /** This process's threads on a core during the pass (lib/thread-times.ts), and the scan's worker process. */
  times?: ThreadTimesDelta;
  p50: number;
  p99: number;
  max: number;
  stretches?: WindowFigures;
}

/** The inspector's profiler, started: a sample every 200 µs. */
async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}

/** `profiled`: under the profiler (which costs the thread CPU of its own), writing it to `profile` if given. */
async function measuredPass(sync: DirectorySync, profiled: boolean, profile?: string): Promise<PassFigures> {
  const session = profiled ? await startProfiler() : undefined;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const began = performance.now();
  const fromUs = monotonicUs();
  const before = readThreadTimes(process.pid);
  const status = await sync.pass();
  const after = readThreadTimes(process.pid);
  const toUs = monotonicUs();
  const wallMs = performance.now() - began;
  delay.disable();
  if (status.phase !== 'Synced') throw new Error(`pass: phase ${status.phase}: ${status.error ?? ''}`);
  const ms = (ns: number): number => ns / 1e6;
  const figures: PassFigures = {
    wallMs,
    ...(before && after ? { times: threadTimesDelta(before, after) } : {}),
    p50: ms(delay.percentile(50)),
    p99: ms(delay.percentile(99)),
    max: ms(delay.max),
  };
  if (!session) return figures;
  const { profile: result } = await session.post('Profiler.stop');
  session.disconnect();
  if (profile) await writeFile(profile, JSON.stringify(result));
  // The pass alone: not the profiler's own start and stop.
  const samples = { ...result, samples: result.samples ?? [], timeDeltas: result.timeDeltas ?? [] };
  return { ...figures, stretches: windowFigures(samples, fromUs, toUs) };
}

function line(what: string, figures: PassFigures): string {
  const f = (value: number): string => value.toFixed(1);
  const times = figures.times
    ? `main thread on a core ${f(figures.times.mainCpuMs)} ms (waiting for one ${f(figures.times.mainWaitMs)}), other threads ${f(figures.times.otherCpuMs)}, scan process ${f(figures.times.childrenCpuMs)}; `
    : '';
  return (
    `${what}: ${f(figures.wallMs)} ms; ${times}event-loop delay p50 ${f(figures.p50)} / p99 ${f(figures.p99)} / max ${f(figures.max)} ms\n` +
    (figures.stretches ? `${formatWindow('  profiled', figures.stretches)}\n` : '')
  );
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'luma-bench-sync-'));
  const dir = path.join(root, 'manifests');
  const stateDir = path.join(root, 'state');
  await mkdir(dir);
  if (CPU_PROF_DIR) await mkdir(CPU_PROF_DIR, { recursive: true });
  const store = await FileStore.open(stateDir);
  const sync = new DirectorySync({
    dir,
    store,
    inventory: new InventoryFile(stateDir),
    settings: { ...DEFAULT_SETTINGS.sync, writeFinishMs: 0 },
    admission: DEFAULT_SETTINGS,
    resolveContext: () => Promise.reject(new Error('no build contexts here')),
    events: new MemoryEventLog().recorder('sync'),
    logger: silentLogger(),
  });
  try {
    await writeFiles(dir, 'first');
    process.stdout.write(line(`first pass, ${FILES} files`, await measuredPass(sync, false)));
    for (let round = 0; round < ROUNDS; round += 1) {
      const last = round === ROUNDS - 1 && CPU_PROF_DIR;
      const unchanged = await measuredPass(
        sync,
        STRETCHES || Boolean(last),
        last ? path.join(CPU_PROF_DIR, 'unchanged.cpuprofile') : undefined,
      );
      process.stdout.write(line(`round ${round + 1}, nothing changed`, unchanged));
      await writeFiles(dir, `round ${round}`);
      const full = await measuredPass(
        sync,
        STRETCHES || Boolean(last),
        last ? path.join(CPU_PROF_DIR, 'full.cpuprofile') : undefined,
      );
      process.stdout.write(line(`round ${round + 1}, every comment changed`, full));
    }
  } finally {
    await sync.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
