// bench/scale's directory form: FILES manifest files in the watched directory of `luma up`.
//
// Times a first pass (every file creates its project), passes with nothing changed, and
// full passes (every file's bytes changed by a comment: each is read and parsed, in the
// scan's worker thread, and found to declare what it applied last, so nothing is admitted
// or applied; until 2026-12-07 each was also admitted and applied on the main thread, and
// the store found nothing to write). During each full pass, a warm project (a
// running container behind the in-process proxy) is called without pause by a few
// keep-alive clients; its p99 is set against the p99 of a window of the same length with
// no pass, taken just after, round by round. The watcher's debounce is set long, so that
// passes run only when the bench asks for one (POST /api/v1alpha1/sync).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiCall } from '../../test/support/api.js';
import { buildTestImage, removeInstanceContainers, testInstance } from '../../test/support/docker.js';
import { eventually, request, startLuma, tempDir, writeConfig, type LumaProcess } from '../../test/support/luma.js';
import { percentile } from './common.js';
import { readThreadTimes, threadTimesDelta, type ThreadTimesDelta } from './thread-times.js';
import { benchProject } from './scale-manifests.js';

const WARM_HOST = 'warm.scale.localhost';
const CLIENTS = 4;

const fileName = (index: number): string => `p${String(index).padStart(5, '0')}.yaml`;

function projectManifest(index: number, comment: string, scaling = '{ minInstances: 0, idleTimeout: 10m }'): string {
  const name = index < 0 ? 'warm' : `p${String(index).padStart(5, '0')}`;
  const host = index < 0 ? WARM_HOST : `${name}.scale.localhost`;
  return `# ${comment}\n${benchProject(name, host, [`  scaling: ${scaling}`])}\n`;
}

async function writeFiles(dir: string, files: number, comment: string): Promise<void> {
  // In batches: ten thousand writes at once would exhaust file descriptors.
  for (let start = 0; start < files; start += 200) {
    const batch = Array.from({ length: Math.min(200, files - start) }, (_, offset) => start + offset);
    await Promise.all(
      batch.map((index) => writeFile(path.join(dir, fileName(index)), projectManifest(index, comment))),
    );
  }
}

async function passesSoFar(luma: LumaProcess): Promise<number> {
  const answer = await apiCall(luma.api, 'GET', '/api/v1alpha1/sync', { timeoutMs: 60_000 });
  return (answer.json as { passes: number }).passes;
}

/**
 * A pass that may outlast fetch's 300 s wait for an answer's head (the first pass of
 * 10,000 files on a busy machine): asked for, then looked for in the sync status once a
 * second (the status of 10,000 files is not free to serve).
 */
async function longPass(luma: LumaProcess): Promise<number> {
  const before = await passesSoFar(luma);
  const began = performance.now();
  void apiCall(luma.api, 'POST', '/api/v1alpha1/sync', { body: {}, timeoutMs: 3_600_000 }).catch(() => undefined);
  // Bounded: an hour at most.
  for (let poll = 0; poll < 3_600 && (await passesSoFar(luma)) <= before; poll += 1) await sleep(1_000);
  return performance.now() - began;
}

async function timedPass(luma: LumaProcess): Promise<number> {
  const began = performance.now();
  const answer = await apiCall(luma.api, 'POST', '/api/v1alpha1/sync', { body: {}, timeoutMs: 600_000 });
  if (answer.status !== 200) throw new Error(`sync: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
  const phase = (answer.json as { phase?: string }).phase;
  if (phase !== 'Synced') throw new Error(`sync: phase ${phase ?? '?'} ${answer.text.slice(0, 500)}`);
  return performance.now() - began;
}

/** Answers other than 200, by status, over the whole run. */
const failures: number[] = [];

/** Keep-alive clients calling the warm project until `until` resolves; every latency in ms. */
async function loadDuring(port: number, until: Promise<unknown>): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const latencies: number[] = [];
  let done = false;
  void until.finally(() => (done = true));
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const began = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: WARM_HOST }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          // A proxy frozen past its response timeout answers 504: its latency counts, and the answer is told.
          if (res.statusCode !== 200) failures.push(res.statusCode ?? 0);
          latencies.push(performance.now() - began);
          resolve();
        });
      });
      req.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!done) await one();
    }),
  );
  agent.destroy();
  return latencies;
}

const median = (values: number[]): number => percentile(values, 50);

/** Passes timed on the monotonic clock V8's profiles use (µs), to cut a `--cpu-prof` profile to them. */
interface PassWindow {
  label: string;
  fromUs: number;
  toUs: number;
}
const windows: PassWindow[] = [];
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function windowed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const fromUs = monotonicUs();
  try {
    return await work();
  } finally {
    windows.push({ label, fromUs, toUs: monotonicUs() });
  }
}

interface DirectoryFigures {
  firstPassMs: number;
  unchangedPassMs: number[];
  fullPassMs: number[];
  p99Idle: number[];
  p99Pass: number[];
  p50Idle: number[];
  p50Pass: number[];
  /** Requests answered during the pass / in the window without, per round: clients that wait for each answer send fewer when the proxy stalls. */
  throughputRatio: number[];
  /** Every latency of every round's windows: a window of a few hundred requests has a p99 that is its 3rd to 5th slowest answer. */
  allIdle: number[];
  allPass: number[];
  /** Where `luma up`'s CPU went in each window (lib/thread-times.ts), when /proc tells. */
  timesIdle: ThreadTimesDelta[];
  timesPass: ThreadTimesDelta[];
}

/** A window's latencies, and what `luma up`'s threads and children did meanwhile. */
async function measuredWindow(
  label: string,
  luma: LumaProcess,
  until: () => Promise<unknown>,
): Promise<{ latencies: number[]; times?: ThreadTimesDelta }> {
  const pid = luma.child.pid ?? -1;
  const before = readThreadTimes(pid);
  const latencies = await windowed(label, () => loadDuring(luma.proxyPort, until()));
  const after = readThreadTimes(pid);
  return { latencies, ...(before && after ? { times: threadTimesDelta(before, after) } : {}) };
}

async function measure(luma: LumaProcess, manifests: string, files: number, rounds: number): Promise<DirectoryFigures> {
  await writeFiles(manifests, files, 'first');
  const firstPassMs = await longPass(luma);
  // Let the controller reconcile the new projects before timing anything else.
  await eventually(
    async () => {
      const list = await apiCall(luma.api, 'GET', '/api/v1alpha1/projects', { timeoutMs: 120_000 });
      const items = (
        list.json as { items: Array<{ metadata: { generation?: number }; status?: { observedGeneration?: number } }> }
      ).items;
      return items.filter((item) => item.status?.observedGeneration === item.metadata.generation).length >= files + 1;
    },
    600_000,
    'all projects reconciled',
  );
  const figures: DirectoryFigures = {
    firstPassMs,
    unchangedPassMs: [],
    fullPassMs: [],
    p99Idle: [],
    p99Pass: [],
    p50Idle: [],
    p50Pass: [],
    throughputRatio: [],
    allIdle: [],
    allPass: [],
    timesIdle: [],
    timesPass: [],
  };
  for (let round = 0; round < rounds; round += 1) {
    figures.unchangedPassMs.push(await windowed(`unchanged ${round + 1}`, () => timedPass(luma)));
    await writeFiles(manifests, files, `round ${round}`);
    // The watcher's own work on the writes (chokidar's events) is over before the window.
    await sleep(2_000);
    // The window without a pass comes after the pass in odd rounds and before it (as long as
    // the last pass) in even ones: right after a pass, the proxy's process may still be
    // collecting the pass's garbage, and the bench reading its answer.
    const lastPassMs = figures.fullPassMs.at(-1);
    const idleFirst = round % 2 === 1 && lastPassMs !== undefined;
    const quiet = (ms: number): Promise<{ latencies: number[]; times?: ThreadTimesDelta }> =>
      measuredWindow(`without ${round + 1}`, luma, () => sleep(ms));
    const idleBefore = idleFirst ? await quiet(lastPassMs) : undefined;
    let passMs = 0;
    const passWindow = await measuredWindow(`full ${round + 1}`, luma, async () => {
      passMs = await timedPass(luma);
    });
    const idleWindow = idleBefore ?? (await quiet(passMs));
    const during = passWindow.latencies;
    const idle = idleWindow.latencies;
    figures.allPass.push(...during);
    figures.allIdle.push(...idle);
    if (passWindow.times && idleWindow.times) {
      figures.timesPass.push(passWindow.times);
      figures.timesIdle.push(idleWindow.times);
    }
    figures.fullPassMs.push(passMs);
    figures.p99Pass.push(percentile(during, 99));
    figures.p99Idle.push(percentile(idle, 99));
    figures.p50Pass.push(percentile(during, 50));
    figures.p50Idle.push(percentile(idle, 50));
    figures.throughputRatio.push(during.length / Math.max(1, idle.length));
    process.stdout.write(
      `round ${round + 1}: unchanged pass ${figures.unchangedPassMs.at(-1)?.toFixed(0)} ms; full pass ${passMs.toFixed(0)} ms; warm project p99 ${figures.p99Pass.at(-1)?.toFixed(2)} ms during (${during.length} requests) / ${figures.p99Idle.at(-1)?.toFixed(2)} ms without (${idle.length}, ${idleFirst ? 'before' : 'after'} the pass)\n`,
    );
  }
  return figures;
}

function printFigures(files: number, figures: DirectoryFigures): void {
  const ms = (value: number): string => `${value.toFixed(value < 10 ? 2 : 0)} ms`;
  const p99Ratio = median(figures.p99Pass) / median(figures.p99Idle);
  const rows: Array<[string, string, string]> = [
    [`first pass: ${files} files, each creating its project`, ms(figures.firstPassMs), ''],
    ['pass with nothing changed (median)', ms(median(figures.unchangedPassMs)), files <= 1_000 ? '< 1,000 ms' : ''],
    ['full pass: every file rewritten, nothing to store (median)', ms(median(figures.fullPassMs)), ''],
    [
      'warm project p50 without a pass / during a full pass (medians of rounds)',
      `${ms(median(figures.p50Idle))} / ${ms(median(figures.p50Pass))}`,
      '',
    ],
    [
      'warm project p99 without a pass / during a full pass (medians of rounds)',
      `${ms(median(figures.p99Idle))} / ${ms(median(figures.p99Pass))}`,
      '',
    ],
    ['ratio: p99 during a full pass / p99 without', p99Ratio.toFixed(2), '≤ 2'],
    [
      'ratio: requests answered during a full pass / in as long without (median)',
      median(figures.throughputRatio).toFixed(2),
      '',
    ],
    [
      `warm project p99 without / during, every round's requests together (${figures.allIdle.length} / ${figures.allPass.length})`,
      `${ms(percentile(figures.allIdle, 99))} / ${ms(percentile(figures.allPass, 99))}`,
      '',
    ],
    [
      "ratio of those p99s (all rounds' requests)",
      (percentile(figures.allPass, 99) / percentile(figures.allIdle, 99)).toFixed(2),
      '≤ 2',
    ],
    ...threadRows(figures),
  ];
  rows.push([
    'warm project answers other than 200',
    failures.length === 0 ? 'none' : `${failures.length} (${[...new Set(failures)].join(', ')})`,
    'none',
  ]);
  process.stdout.write('\n| measure | value | goal |\n|---|---:|---|\n');
  for (const [what, value, goal] of rows) process.stdout.write(`| ${what} | ${value} | ${goal} |\n`);
}

/** Sums over the rounds: `luma up`'s main thread, its other threads, and the scan's worker process. */
function threadRows(figures: DirectoryFigures): Array<[string, string, string]> {
  if (figures.timesPass.length === 0) return [];
  const sum = (list: ThreadTimesDelta[], key: keyof ThreadTimesDelta): number =>
    list.reduce((total, times) => total + times[key], 0);
  const pair = (key: keyof ThreadTimesDelta): string =>
    `${sum(figures.timesIdle, key).toFixed(0)} / ${sum(figures.timesPass, key).toFixed(0)} ms`;
  const perRequest = (list: ThreadTimesDelta[], requests: number): string =>
    `${((1000 * sum(list, 'mainCpuMs')) / Math.max(1, requests)).toFixed(0)} µs`;
  return [
    ['`luma up` main thread on a core, windows without / during passes (all rounds)', pair('mainCpuMs'), ''],
    [
      'the same per request answered',
      `${perRequest(figures.timesIdle, figures.allIdle.length)} / ${perRequest(figures.timesPass, figures.allPass.length)}`,
      '',
    ],
    ['`luma up` main thread runnable but waiting for a core, without / during', pair('mainWaitMs'), ''],
    ["`luma up`'s other threads on a core, without / during", pair('otherCpuMs'), ''],
    ["`luma up`'s child processes (the scan's worker) on a core, without / during", pair('childrenCpuMs'), ''],
  ];
}

/**
 * `cpuProfDir`: `luma up` runs under `node --cpu-prof` (a profile per thread, written when
 * it stops), and DIR/windows.json gives each pass's start and end on the profiles' clock.
 */
export async function runDirectoryForm(files: number, rounds: number, cpuProfDir?: string): Promise<void> {
  await buildTestImage();
  const instance = testInstance('bench-scale-dir');
  const dir = await tempDir('bench-scale-dir');
  const manifests = path.join(dir, 'manifests');
  await mkdir(manifests);
  await writeFile(path.join(manifests, 'warm.yaml'), projectManifest(-1, 'the warm project', '{ minInstances: 1 }'));
  process.stdout.write(
    `bench/scale directory form: ${files} manifest files, ${rounds} rounds, ${CLIENTS} keep-alive clients on the warm project\n`,
  );
  try {
    const config = await writeConfig(dir, { sync: '{ debounce: 1h }' });
    const luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests,
      instance,
      config,
      startTimeoutMs: 60_000,
      ...(cpuProfDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProfDir)}`] } : {}),
    });
    try {
      await eventually(
        async () => (await request(luma.proxyPort, WARM_HOST, '/', 5_000).catch(() => ({ status: 0 }))).status === 200,
        60_000,
        'the warm project answering',
      );
      printFigures(files, await measure(luma, manifests, files, rounds));
    } finally {
      await luma.stop();
      if (cpuProfDir) await writeFile(path.join(cpuProfDir, 'windows.json'), JSON.stringify(windows, null, 1));
    }
  } finally {
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  }
}
