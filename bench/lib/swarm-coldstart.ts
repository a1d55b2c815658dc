import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { TEST_IMAGE, testInstance } from '../../test/support/docker.js';
import { projectManifest, runCli, startLuma, tempDir, writeConfig } from '../../test/support/luma.js';
import { startTestSwarm, type TestSwarm } from '../../test/support/swarm.js';
import { percentile } from './common.js';

// bench/coldstart's Swarm tier: on a one-node swarm of its own with a registry (root), a
// project scaled to zero by Luma (`luma up --runtime swarm`) woken by a request, against
// `docker service scale NAME=1` of a like service plus polling its host-mode port until
// HTTP 200, interleaved round by round (the first round discarded). Goal: Luma ≤ 1.10×.

const run = promisify(execFile);
const POLL_MS = 5;
const HOST = 'swarm-bench.localhost';
const BASELINE = 'bench-swarm-baseline';

function getStatus(host: string, port: number, hostHeader?: string): Promise<number> {
  return new Promise((resolve) => {
    const headers = hostHeader ? { host: hostHeader } : {};
    const req = http.get({ host, port, path: '/', headers, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Until the services of a label (or name) have no task left: scaled to zero and settled. */
async function settled(client: Docker, filters: Record<string, string[]>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const services = await client.listServices({ filters });
    const ids = services.map((service) => service.ID);
    const zero = services.every((service) => (service.Spec?.Mode?.Replicated?.Replicas ?? 0) === 0);
    const tasks = ids.length ? await client.listTasks({ filters: { service: ids } }) : [];
    if (ids.length > 0 && zero && tasks.length === 0) return;
    if (Date.now() > deadline) throw new Error(`services ${JSON.stringify(filters)} did not settle at zero`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function baselineRound(swarm: TestSwarm, port: number): Promise<number> {
  const docker = ['-H', swarm.host];
  await settled(swarm.client, { name: [BASELINE] });
  const start = performance.now();
  await run('docker', [...docker, 'service', 'scale', '--detach', `${BASELINE}=1`]);
  while ((await getStatus(swarm.nodeAddress, port)) !== 200) await new Promise((r) => setTimeout(r, POLL_MS));
  const elapsed = performance.now() - start;
  await run('docker', [...docker, 'service', 'scale', '--detach', `${BASELINE}=0`]);
  return elapsed;
}

async function lumaRound(swarm: TestSwarm, instance: string, proxyPort: number): Promise<number> {
  await settled(swarm.client, { label: [`luma.dev/instance=${instance}`] });
  const start = performance.now();
  const status = await getStatus('127.0.0.1', proxyPort, HOST);
  if (status !== 200) throw new Error(`luma answered ${status}`);
  return performance.now() - start;
}

export async function swarmTier(iterations: number): Promise<void> {
  const swarm = await startTestSwarm();
  const dir = await tempDir('bench-swarm');
  try {
    await mkdir(path.join(dir, 'manifests'));
    const instance = testInstance('bench-swarm');
    const config = await writeConfig(dir, { resyncInterval: '30s', stopTimeout: '2s' });
    const luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
      args: ['--runtime', 'swarm', '--registry', swarm.registry],
      env: { DOCKER_HOST: swarm.host },
      startTimeoutMs: 60_000,
    });
    try {
      const file = path.join(dir, 'project.yaml');
      await writeFile(
        file,
        projectManifest('swarm-bench', { image: TEST_IMAGE, hostnames: [HOST], idleTimeout: '1s' }),
      );
      const applied = await runCli(['apply', '-f', file], { api: luma.api });
      if (applied.code !== 0) throw new Error(applied.stderr);
      // A first request makes Luma push the image to the registry; the baseline then uses it.
      if ((await getStatus('127.0.0.1', luma.proxyPort, HOST)) !== 200) throw new Error('the first request failed');
      await measure(swarm, instance, luma.proxyPort, iterations);
    } finally {
      await luma.stop();
    }
  } finally {
    await swarm.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(swarm: TestSwarm, instance: string, proxyPort: number, iterations: number): Promise<void> {
  const port = 30_000 + Math.floor(Math.random() * 2_000);
  await run('docker', [
    ...['-H', swarm.host, 'service', 'create', '--detach', '--name', BASELINE, '--replicas', '0'],
    ...['--publish', `mode=host,target=8080,published=${port}`, '--endpoint-mode', 'dnsrr'],
    ...['--stop-grace-period', '2s', '--restart-condition', 'none', '--init', '--env', 'PORT=8080'],
    `${swarm.registry}/${TEST_IMAGE}`,
  ]);
  const samples = { baseline: [] as number[], luma: [] as number[] };
  for (let round = 0; round <= iterations; round++) {
    const base = await baselineRound(swarm, port);
    const luma = await lumaRound(swarm, instance, proxyPort);
    if (round === 0) continue; // warm-up
    samples.baseline.push(base);
    samples.luma.push(luma);
  }
  const p = (values: number[], q: number): string => percentile(values, q).toFixed(1);
  console.log('\n| swarm tier (ms) | p50 | p95 |\n|---|---:|---:|');
  console.log(`| docker service scale =1 + poll | ${p(samples.baseline, 50)} | ${p(samples.baseline, 95)} |`);
  console.log(`| luma first byte (service at 0) | ${p(samples.luma, 50)} | ${p(samples.luma, 95)} |`);
  const ratio = (q: number): string => (percentile(samples.luma, q) / percentile(samples.baseline, q)).toFixed(2);
  console.log(`\n| ratio (Luma / baseline) | p50 | p95 | goal |\n|---|---:|---:|---|`);
  console.log(`| swarm vs service scale | ${ratio(50)} | ${ratio(95)} | ≤ 1.10 |`);
}
