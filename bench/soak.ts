// bench/soak: mixed traffic for a set time, with projects cycling through idle stops.
//
//   npx tsx bench/soak.ts [--duration 600] [--projects 6] [--sample 30]
//
// `luma up` runs `--projects` scale-to-zero projects (idle timeout 3 s; every other one
// pauses first) and one with a pool for leases. Each project alternates a burst of
// traffic (a few requests a second for 5–15 s) with a silence longer than its idle
// timeout, so it keeps being stopped (or paused) and started again; a lease is created,
// used and deleted every few seconds. Every `--sample` seconds the script prints the
// requests, errors (anything but HTTP 200, or no answer), the controller's resident memory
// and CPU; at the end, memory growth past the warm-up against the goal of 10 %, and every
// error seen. Memory is read every 2 s besides: V8 grows and shrinks its heap by 10–20 MiB
// within a minute, so one reading against another says more about where each fell in
// that cycle than about growth. Growth compares the median of the window right after the
// warm-up (the first fifth of the run, at least 60 s) with the median of the run's last
// window of the same length.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiCall } from '../test/support/api.js';
import { buildTestImage, removeInstanceContainers, testInstance } from '../test/support/docker.js';
import { request, startLuma, tempDir, type ApiEndpoint } from '../test/support/luma.js';
import { cpuMs, MiB, residentBytes, sampleResidentMemory, type MemorySampler } from './lib/process-stats.js';
import { option, percentile } from './lib/common.js';
import { benchProject } from './lib/scale-manifests.js';

if (process.argv.includes('--help')) {
  process.stdout.write(
    'usage: npx tsx bench/soak.ts [--duration SECONDS (600)] [--projects 6] [--sample SECONDS (30)]\n',
  );
  process.exit(0);
}
const DURATION_S = option('--duration', 600);
const PROJECTS = option('--projects', 6);
const SAMPLE_S = option('--sample', 30);
const POOLED = 'pooled';

interface Tally {
  requests: number;
  errors: number;
  leases: number;
  messages: Map<string, number>;
}

function projectYaml(name: string, extra: string[]): string {
  return benchProject(name, `${name}.soak.localhost`, extra);
}

function noteError(tally: Tally, message: string): void {
  tally.errors += 1;
  tally.messages.set(message, (tally.messages.get(message) ?? 0) + 1);
}

async function get(tally: Tally, port: number, host: string): Promise<void> {
  tally.requests += 1;
  try {
    const answer = await request(port, host, '/', 30_000);
    if (answer.status !== 200) noteError(tally, `${host}: HTTP ${answer.status} ${answer.body.trim().slice(0, 120)}`);
  } catch (error) {
    noteError(tally, `${host}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Bursts of traffic separated by silences longer than the idle timeout, until `until`. */
async function cycleProject(tally: Tally, port: number, name: string, until: number): Promise<void> {
  let seed = [...name].reduce((sum, char) => sum + char.charCodeAt(0), 0);
  const next = (min: number, max: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return min + (seed % (max - min + 1));
  };
  while (Date.now() < until) {
    const burstEnd = Date.now() + next(5_000, 15_000);
    while (Date.now() < Math.min(burstEnd, until)) {
      await Promise.all([get(tally, port, `${name}.soak.localhost`), sleep(next(150, 400))]);
    }
    await sleep(next(4_000, 9_000));
  }
}

async function cycleLeases(tally: Tally, api: ApiEndpoint, port: number, until: number): Promise<void> {
  let number = 0;
  while (Date.now() < until) {
    number += 1;
    const name = `soak-${number}`;
    const body = {
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Lease',
      metadata: { name },
      spec: { project: POOLED, ttl: '5m' },
    };
    const created = await apiCall(api, 'PUT', `/api/v1alpha1/leases/${name}`, { body });
    if (created.status !== 200) noteError(tally, `lease create: HTTP ${created.status} ${created.text.slice(0, 120)}`);
    await get(tally, port, `${name}.${POOLED}.soak.localhost`);
    await sleep(2_000);
    const deleted = await apiCall(api, 'DELETE', `/api/v1alpha1/leases/${name}`);
    if (deleted.status !== 200) noteError(tally, `lease delete: HTTP ${deleted.status} ${deleted.text.slice(0, 120)}`);
    tally.leases += 1;
    await sleep(3_000);
  }
}

async function main(): Promise<void> {
  await buildTestImage();
  const instance = testInstance('bench-soak');
  const dir = await tempDir('bench-soak');
  await mkdir(path.join(dir, 'manifests'));
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'leases:',
      '  minTtl: 1m',
      '  gracePeriod: 1s',
      '  defaultMemory: 64Mi',
      '  minMemory: 32Mi',
      '  defaultCpu: 250m',
      '',
    ].join('\n'),
  );
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
    startTimeoutMs: 60_000,
  });
  const pid = luma.child.pid ?? -1;
  const tally: Tally = { requests: 0, errors: 0, leases: 0, messages: new Map() };
  let memorySampler: MemorySampler | undefined;
  try {
    const names = Array.from({ length: PROJECTS }, (_, index) => `soak${index}`);
    const documents = names.map((name, index) =>
      projectYaml(name, [
        '  scaling:',
        '    minInstances: 0',
        '    maxInstances: 2',
        '    targetConcurrency: 4',
        '    idleTimeout: 3s',
        ...(index % 2 === 1 ? ['    pauseAfter: 1s'] : []),
      ]),
    );
    documents.push(projectYaml(POOLED, ['  scaling: { minInstances: 0, idleTimeout: 3s }', '  pool:', '    size: 1']));
    const applied = await apiCall(luma.api, 'POST', '/apply?source=soak.yaml', {
      rawBody: documents.join('\n---\n'),
      headers: { 'content-type': 'application/yaml' },
    });
    if (applied.status !== 200) throw new Error(`apply: HTTP ${applied.status} ${applied.text}`);

    process.stdout.write(
      `bench/soak: ${DURATION_S} s, ${PROJECTS} projects cycling (idle 3 s) and leases; a row every ${SAMPLE_S} s\n\n`,
    );
    process.stdout.write(
      '| time s | requests | errors | leases | RSS MiB | CPU % (window) |\n|---:|---:|---:|---:|---:|---:|\n',
    );
    const began = Date.now();
    const until = began + DURATION_S * 1000;
    const traffic = Promise.all([
      ...names.map((name) => cycleProject(tally, luma.proxyPort, name, until)),
      cycleLeases(tally, luma.api, luma.proxyPort, until),
    ]);

    const samples: number[] = [];
    memorySampler = sampleResidentMemory(pid, 2_000);
    const memory = memorySampler.readings;
    let lastCpu = await cpuMs(pid);
    let lastAt = Date.now();
    while (Date.now() < until) {
      await sleep(Math.min(SAMPLE_S * 1000, Math.max(0, until - Date.now())));
      const rss = await residentBytes(pid);
      const cpu = await cpuMs(pid);
      const percent = ((cpu - lastCpu) / (Date.now() - lastAt)) * 100;
      lastCpu = cpu;
      lastAt = Date.now();
      samples.push(rss);
      process.stdout.write(
        `| ${Math.round((Date.now() - began) / 1000)} | ${tally.requests} | ${tally.errors} | ${tally.leases} | ${(rss / MiB).toFixed(1)} | ${percent.toFixed(1)} |\n`,
      );
    }
    await traffic;
    memorySampler?.stop();
    const first = samples[0] ?? 0;
    const last = samples[samples.length - 1] ?? 0;
    const peak = Math.max(...samples, ...memory.map((sample) => sample.rss));
    const windowMs = Math.max(60_000, DURATION_S * 200);
    const medianBetween = (from: number, to: number): number =>
      percentile(
        memory.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.rss),
        50,
      );
    const warm = medianBetween(windowMs, 2 * windowMs);
    const end = medianBetween(DURATION_S * 1000 - windowMs, Infinity);
    const growth = warm > 0 ? ((end - warm) / warm) * 100 : NaN;
    process.stdout.write(`\n| measure | value | goal |\n|---|---:|---|\n`);
    process.stdout.write(
      `| requests | ${tally.requests} | |\n| errors | ${tally.errors} | 0 |\n| leases created, used and deleted | ${tally.leases} | |\n`,
    );
    process.stdout.write(
      `| RSS: first and last row / peak (every 2 s) | ${(first / MiB).toFixed(1)} / ${(last / MiB).toFixed(1)} / ${(peak / MiB).toFixed(1)} MiB | |\n`,
    );
    const windowS = Math.round(windowMs / 1000);
    process.stdout.write(
      `| RSS median (every 2 s): ${windowS}–${2 * windowS} s, after the warm-up / the last ${windowS} s | ${(warm / MiB).toFixed(1)} / ${(end / MiB).toFixed(1)} MiB | |\n`,
    );
    process.stdout.write(`| memory growth past warm-up (those medians) | ${growth.toFixed(1)} % | ≤ 10 % |\n`);
    for (const [message, count] of tally.messages) process.stdout.write(`error ×${count}: ${message}\n`);
  } finally {
    memorySampler?.stop();
    await luma.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench/soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
