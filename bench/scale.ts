// bench/scale: thousands of scale-to-zero projects on one controller.
//
//   npx tsx bench/scale.ts [--projects 1000[,10000]] [--cold 50] [--idle-seconds 90] [--resync-seconds 10] [--cpu-prof DIR]
//   npx tsx bench/scale.ts --files 1000 [--rounds 5] [--cpu-prof DIR]   (the directory form: lib/scale-directory.ts)
//
// Prints the time to apply them (one POST /apply) and to reconcile them all, the
// controller's resident memory and CPU while idle, the Docker API calls it makes per
// resync (counted by a socket in front of the engine's: DOCKER_HOST points `luma up` at
// it), then the time to cold-start `--cold` of them at once through the proxy, against
// the same number of containers created and started at once through the Engine API in
// the same run (the baseline). With several counts (`--projects 1000,10000`), each runs on a
// fresh `luma up` in turn and a last table sets them side by side.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiCall } from '../test/support/api.js';
import { buildTestImage, docker, removeInstanceContainers, TEST_IMAGE, testInstance } from '../test/support/docker.js';
import { request, startLuma, tempDir, writeConfig } from '../test/support/luma.js';
import { startCountingSocket, type CountingSocket } from './lib/counting-docker-socket.js';
import { cpuMs, cpuPercentOver, MiB, residentBytes, sampleResidentMemory } from './lib/process-stats.js';
import { option, percentile } from './lib/common.js';
import { runDirectoryForm } from './lib/scale-directory.js';
import { projectName, scaleManifests } from './lib/scale-manifests.js';

if (process.argv.includes('--help')) {
  process.stdout.write(
    'usage: npx tsx bench/scale.ts [--projects 1000[,10000]] [--cold 50] [--idle-seconds 90] [--resync-seconds 10] [--cpu-prof DIR]\n',
  );
  process.stdout.write(
    '       npx tsx bench/scale.ts --files 1000|10000 [--rounds 5] [--cpu-prof DIR]   (manifest files in the watched directory)\n',
  );
  process.exit(0);
}
const FILES = process.argv.includes('--files') ? option('--files', 1_000) : undefined;
/** `--projects 1000,10000` runs each count in turn (a fresh `luma up` each) and sets them side by side. */
const PROJECT_COUNTS = projectCounts();
const COLD = option('--cold', 50);
const IDLE_SECONDS = option('--idle-seconds', 90);
const RESYNC_SECONDS = option('--resync-seconds', 10);
const BASELINE_LABEL = 'luma-bench.scale';
/** `--cpu-prof DIR`: `luma up` runs under `node --cpu-prof`, its profile written to DIR when it stops. */
const CPU_PROF_DIR = process.argv.includes('--cpu-prof')
  ? process.argv[process.argv.indexOf('--cpu-prof') + 1]
  : undefined;

/** Where the run is, on stderr: ten thousand projects take minutes on a busy machine. */
function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function projectCounts(): number[] {
  const index = process.argv.indexOf('--projects');
  if (index < 0) return [1_000];
  const counts = (process.argv[index + 1] ?? '').split(',').map(Number);
  if (counts.length === 0 || counts.some((count) => !Number.isInteger(count) || count <= 0))
    throw new Error(
      `--projects: expected positive whole numbers separated by commas, got "${process.argv[index + 1]}"`,
    );
  return counts;
}

function describeCounts(counting: CountingSocket, divisor = 1): string {
  const rows = [...counting.counts()].sort((a, b) => b[1] - a[1]);
  return (
    rows.map(([endpoint, count]) => `${endpoint} ${(count / divisor).toFixed(divisor === 1 ? 0 : 1)}`).join(', ') ||
    'none'
  );
}

async function waitForHttp200(port: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      if ((await request(port, 'baseline', '/', 2_000)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`port ${port} did not answer in time`);
    await sleep(5);
  }
}

/** The baseline: COLD containers created and started at once through the Engine API, until each answers 200. */
async function baselineColdStarts(count: number, runLabel: string): Promise<{ wallMs: number; latencies: number[] }> {
  const began = Date.now();
  const latencies = await Promise.all(
    Array.from({ length: count }, async () => {
      const container = await docker.createContainer({
        Image: TEST_IMAGE,
        Labels: { [BASELINE_LABEL]: runLabel },
        ExposedPorts: { '8080/tcp': {} },
        HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
      });
      await container.start();
      const info = await container.inspect();
      const port = Number(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort);
      await waitForHttp200(port, Date.now() + 120_000);
      return Date.now() - began;
    }),
  );
  return { wallMs: Date.now() - began, latencies };
}

async function removeBaseline(runLabel: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${BASELINE_LABEL}=${runLabel}`] } });
  await Promise.all(
    containers.map((container) =>
      docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

/** What one count of projects measured; `rows` is its table, the rest feeds the side-by-side one. */
interface Figures {
  projects: number;
  applyMs: number;
  applyCpuMs: number;
  convergeMs: number;
  rssPeakMiB: number;
  rssIdleMiB: number;
  idleCpu: number;
  /** CPU of each resync-long slice of the idle window: the first carries V8's heap shrink after the burst. */
  idleSlices: number[];
  callsPerResync: number;
  rows: Array<[string, string, string]>;
  breakdown: string;
}

async function main(): Promise<void> {
  await buildTestImage();
  const instance = testInstance('bench-scale');
  const dir = await tempDir('bench-scale');
  const counting = await startCountingSocket(path.join(dir, 'docker.sock'));
  process.stdout.write(
    `bench/scale: ${PROJECT_COUNTS.join(' then ')} projects, ${COLD} cold starts, idle window ${IDLE_SECONDS} s, resync every ${RESYNC_SECONDS} s\n`,
  );
  try {
    const baseline = await baselineColdStarts(COLD, instance);
    await removeBaseline(instance);
    progress(`baseline: ${COLD} cold starts in ${baseline.wallMs} ms`);
    const results: Figures[] = [];
    for (const [index, projects] of PROJECT_COUNTS.entries()) {
      const runDir = path.join(dir, `run-${index}`);
      await mkdir(path.join(runDir, 'manifests'), { recursive: true });
      try {
        results.push(await measure(projects, baseline, { dir: runDir, instance, counting }));
      } finally {
        await removeInstanceContainers(instance);
      }
    }
    for (const figures of results) printFigures(figures);
    if (results.length > 1) printSideBySide(results);
  } finally {
    await removeInstanceContainers(instance);
    await removeBaseline(instance);
    await counting.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface RunPlace {
  dir: string;
  instance: string;
  counting: CountingSocket;
}

/** One `luma up` with `projects` projects: apply, converge, idle, cold starts. */
async function measure(
  projects: number,
  baseline: { wallMs: number; latencies: number[] },
  { dir, instance, counting }: RunPlace,
): Promise<Figures> {
  const cold = Math.min(COLD, projects);
  const config = await writeConfig(dir, { resyncInterval: `${RESYNC_SECONDS}s` });
  progress(`${projects} projects: starting luma up`);
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
    env: { DOCKER_HOST: `unix://${counting.path}` },
    ...(CPU_PROF_DIR ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF_DIR)}`] } : {}),
    startTimeoutMs: 60_000,
  });
  const pid = luma.child.pid ?? -1;
  const rssAtStart = await residentBytes(pid);
  // The highest resident memory seen from the apply to the cold starts, read every 200 ms:
  // a burst's peak falls between the readings at fixed moments.
  const peakSampler = sampleResidentMemory(pid, 200);
  try {
    counting.reset();
    const applyCpuBefore = await cpuMs(pid);
    const applyBegan = Date.now();
    const applied = await apiCall(luma.api, 'POST', '/apply?source=scale.yaml', {
      rawBody: scaleManifests(projects),
      headers: { 'content-type': 'application/yaml' },
      timeoutMs: 300_000,
    });
    const applyMs = Date.now() - applyBegan;
    // CPU time, unlike wall time, hardly depends on what else the machine runs.
    const applyCpuMs = (await cpuMs(pid)) - applyCpuBefore;
    progress(`applied in ${applyMs} ms`);
    if (applied.status !== 200) throw new Error(`apply: HTTP ${applied.status} ${applied.text.slice(0, 500)}`);

    await waitUntilReconciled(luma.api, projects);
    const convergeMs = Date.now() - applyBegan;
    const applyCalls = counting.total();
    const applyBreakdown = describeCounts(counting);
    const rssAfterApply = await residentBytes(pid);
    progress(`all reconciled in ${convergeMs} ms; idle for ${IDLE_SECONDS} s`);

    // Idle: let the queue drain, then watch whole resync periods.
    await sleep(3_000);
    counting.reset();
    // Resident memory is read every resync period too: V8 gives back the heap that the
    // apply's burst grew only once allocation has been low for a while (its memory reducer).
    const idleSlices: number[] = [];
    let rssIdlePeak = 0;
    const slices = Math.max(1, Math.round(IDLE_SECONDS / RESYNC_SECONDS));
    for (let slice = 0; slice < slices; slice++) {
      idleSlices.push(await cpuPercentOver(pid, (IDLE_SECONDS * 1000) / slices));
      rssIdlePeak = Math.max(rssIdlePeak, await residentBytes(pid));
    }
    const idleCpu = idleSlices.reduce((sum, value) => sum + value, 0) / slices;
    const resyncs = IDLE_SECONDS / RESYNC_SECONDS;
    const idleCalls = counting.total();
    const idleBreakdown = describeCounts(counting, resyncs);
    const rssIdle = await residentBytes(pid);

    peakSampler.stop();
    progress('cold starts');
    const rssPeak = Math.max(rssAtStart, ...peakSampler.readings.map((reading) => reading.rss));
    counting.reset();
    const coldBegan = Date.now();
    // A start slower than the project's startupTimeout (30 s) is answered 503: counted, not fatal.
    const answers = await Promise.all(
      Array.from({ length: cold }, async (_, index) => {
        const answer = await request(luma.proxyPort, `${projectName(index)}.scale.localhost`, '/', 120_000).catch(
          () => ({ status: 0 }),
        );
        return { status: answer.status, ms: Date.now() - coldBegan };
      }),
    );
    const started = answers.filter((answer) => answer.status === 200).map((answer) => answer.ms);
    const failed = answers.filter((answer) => answer.status !== 200).map((answer) => answer.status);
    const coldWallMs = Date.now() - coldBegan;
    const coldCalls = counting.total();
    const rssAfterCold = await residentBytes(pid);

    const rows: Array<[string, string, string]> = [
      [`apply ${projects} projects (POST /apply, one request)`, `${applyMs} ms`, '≤ 10,000 ms for 10,000'],
      [`controller CPU time during the apply (all threads)`, `${applyCpuMs.toFixed(0)} ms`, ''],
      [`all ${projects} reconciled (observedGeneration), from the apply`, `${convergeMs} ms`, ''],
      ['Docker API calls from the apply until all were reconciled', `${applyCalls}`, ''],
      [
        `controller resident memory: at start / highest from the apply to the end of idle (every 200 ms) / after apply / idle peak / idle after ${IDLE_SECONDS} s / after cold starts`,
        [rssAtStart, rssPeak, rssAfterApply, rssIdlePeak, rssIdle, rssAfterCold].map(mib).join(' / ') + ' MiB',
        '≤ 300 MiB at peak for 10,000',
      ],
      [
        `controller CPU while idle (${IDLE_SECONDS} s; each ${RESYNC_SECONDS} s slice)`,
        `${idleCpu.toFixed(2)} % of a core (${idleSlices.map((value) => value.toFixed(2)).join(', ')})`,
        '≤ 1 %',
      ],
      ['Docker API calls per resync while idle', `${(idleCalls / resyncs).toFixed(1)}`, 'no call per idle project'],
      [
        `cold start of ${cold} at once through the proxy: all answered`,
        `${coldWallMs} ms (p50 ${percentile(started, 50)} ms; ${started.length} × 200${failed.length ? `, ${failed.length} × ${[...new Set(failed)].join('/')}` : ''})`,
        '',
      ],
      [
        `baseline: ${COLD} containers created + started at once (Engine API) until each answered`,
        `${baseline.wallMs} ms (p50 ${percentile(baseline.latencies, 50)} ms)`,
        '',
      ],
      ['ratio: Luma / baseline (all answered)', (coldWallMs / baseline.wallMs).toFixed(2), ''],
      [
        `Docker API calls during the ${cold} cold starts`,
        `${coldCalls} (${(coldCalls / cold).toFixed(1)} per start)`,
        '',
      ],
    ];
    return {
      projects,
      applyMs,
      applyCpuMs,
      convergeMs,
      rssPeakMiB: rssPeak / MiB,
      rssIdleMiB: rssIdle / MiB,
      idleCpu,
      idleSlices,
      callsPerResync: idleCalls / resyncs,
      rows,
      breakdown: `Docker calls during apply and reconcile: ${applyBreakdown}\nDocker calls per idle resync: ${idleBreakdown}`,
    };
  } finally {
    peakSampler.stop();
    await luma.stop();
  }
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(0);

/** Polls the project list until every project's status has caught up with its generation. */
async function waitUntilReconciled(api: Parameters<typeof apiCall>[0], projects: number): Promise<void> {
  for (;;) {
    const list = await apiCall(api, 'GET', '/api/v1alpha1/projects', { timeoutMs: 60_000 });
    const items = (
      list.json as { items: Array<{ metadata: { generation?: number }; status?: { observedGeneration?: number } }> }
    ).items;
    const reconciled = items.filter((item) => item.status?.observedGeneration === item.metadata.generation).length;
    if (reconciled >= projects) return;
    progress(`${reconciled} reconciled`);
    // Listing 10,000 projects is itself work for the controller: asked less often.
    await sleep(projects > 2_000 ? 2_000 : 250);
  }
}

function printFigures(figures: Figures): void {
  process.stdout.write(`\n${figures.projects} projects:\n\n| measure | value | goal |\n|---|---:|---|\n`);
  for (const [what, value, goal] of figures.rows) process.stdout.write(`| ${what} | ${value} | ${goal} |\n`);
  process.stdout.write(`\n${figures.breakdown}\n`);
}

/** The counts next to each other, and each figure of the last set against the first's. */
function printSideBySide(results: Figures[]): void {
  const first = results[0] as Figures;
  const last = results[results.length - 1] as Figures;
  const line = (what: string, value: (figures: Figures) => number, digits: number): string => {
    const cells = results.map((figures) => value(figures).toFixed(digits));
    return `| ${what} | ${cells.join(' | ')} | ${(value(last) / value(first)).toFixed(2)} |\n`;
  };
  const counts = results.map((figures) => figures.projects.toLocaleString('en'));
  process.stdout.write(
    `\n| measure | ${counts.join(' | ')} | ratio |\n|---|${counts.map(() => '---:|').join('')}---:|\n` +
      line('apply (ms)', (figures) => figures.applyMs, 0) +
      line('controller CPU time during the apply (ms)', (figures) => figures.applyCpuMs, 0) +
      line('all reconciled (ms)', (figures) => figures.convergeMs, 0) +
      line('resident memory, peak (MiB)', (figures) => figures.rssPeakMiB, 0) +
      line(`resident memory after ${IDLE_SECONDS} s idle (MiB)`, (figures) => figures.rssIdleMiB, 0) +
      line('idle CPU, whole window (% of a core)', (figures) => figures.idleCpu, 2) +
      line('idle CPU, median slice (% of a core)', (figures) => percentile(figures.idleSlices, 50), 2) +
      line('Docker calls per idle resync', (figures) => figures.callsPerResync, 1),
  );
}

(FILES !== undefined ? runDirectoryForm(FILES, option('--rounds', 5), CPU_PROF_DIR) : main()).catch(
  (error: unknown) => {
    process.stderr.write(
      `bench/scale failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
