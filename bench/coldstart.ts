// bench/coldstart: first-request latency through Luma against raw Docker, in one run.
//
//   npx tsx bench/coldstart.ts [--iterations N]
//
// Four ways to get a first HTTP 200 from the busybox test app, interleaved so that
// machine noise hits them alike:
//   docker-cli stopped   `docker start` of a stopped container, then poll until HTTP 200
//   docker-cli fresh     `docker run -d`, then poll until HTTP 200
//   luma stopped         a request through Luma's proxy to a project idled to a stopped container
//   luma fresh           the same after the stopped container was removed (Luma creates one)
//   luma paused          time to first byte for a project frozen by pauseAfter (Luma unpauses it)
//   docker-api paused    `unpause` through the Engine API, then poll until HTTP 200 (reference)
// Baselines via the Engine API (dockerode, no CLI process) are printed as well.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildTestImage, containersOf, docker, removeInstanceContainers, runningContainersOf, TEST_IMAGE, testInstance } from '../test/support/docker.js';
import { eventually, projectManifest, request, runCli, startLuma, tempDir, writeConfig } from '../test/support/luma.js';

const run = promisify(execFile);
const iterationsFlag = process.argv.indexOf('--iterations');
const ITERATIONS = iterationsFlag > 0 ? Number(process.argv[iterationsFlag + 1]) : 15;
const POLL_MS = 5;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function getOnce(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function pollUntil200(port: number): Promise<void> {
  for (;;) {
    if ((await getOnce(port)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

/** Milliseconds until the response head arrives. */
function timeToFirstByte(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(elapsed) : reject(new Error(`luma answered ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

async function timed(action: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  await buildTestImage();
  const instance = testInstance('bench');
  const dir = await tempDir('bench-coldstart');
  await mkdir(path.join(dir, 'manifests'));
  const config = await writeConfig(dir, { resyncInterval: '30s', stopTimeout: '2s' });
  const luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance, config });
  const samples: Record<string, number[]> = {
    'docker-cli stopped': [],
    'docker-api stopped': [],
    'luma stopped': [],
    'docker-cli fresh': [],
    'docker-api fresh': [],
    'luma fresh': [],
    'docker-api paused': [],
    'luma paused': [],
  };
  const baselineName = `luma-bench-baseline-${process.pid}`;
  try {
    const file = path.join(dir, 'bench.yaml');
    await writeFile(file, projectManifest('bench', { image: TEST_IMAGE, hostnames: ['bench.localhost'], idleTimeout: '1s' }));
    const applied = await runCli(['apply', '-f', file], { server: luma.server });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const pausedFile = path.join(dir, 'paused.yaml');
    await writeFile(pausedFile, projectManifest('benchp', { image: TEST_IMAGE, hostnames: ['benchp.localhost'], idleTimeout: '300s', pauseAfter: '1s' }));
    const appliedPaused = await runCli(['apply', '-f', pausedFile], { server: luma.server });
    if (appliedPaused.code !== 0) throw new Error(appliedPaused.stderr);

    const port = await freePort();
    await run('docker', ['create', '--name', baselineName, '--init', '-p', `127.0.0.1:${port}:8080`, TEST_IMAGE]);
    const baseline = docker.getContainer(baselineName);

    const idle = async (): Promise<void> => {
      await eventually(async () => (await runningContainersOf(instance, 'bench')).length === 0, 20_000, 'luma idle stop');
    };

    for (let i = 0; i < ITERATIONS + 1; i++) {
      const keep = i > 0; // the first round warms caches and is discarded
      // Stopped container, started again.
      const cliStopped = await timed(async () => {
        await run('docker', ['start', baselineName]);
        await pollUntil200(port);
      });
      await run('docker', ['stop', '-t', '2', baselineName]);
      const apiStopped = await timed(async () => {
        await baseline.start();
        await pollUntil200(port);
      });
      await baseline.stop({ t: 2 });
      await idle();
      const lumaStopped = await timed(async () => {
        const answer = await request(luma.proxyPort, 'bench.localhost');
        if (answer.status !== 200) throw new Error(`luma answered ${answer.status}`);
      });

      // Fresh container.
      const freshPort = await freePort();
      const cliFresh = await timed(async () => {
        await run('docker', ['run', '-d', '--init', '--name', `${baselineName}-fresh`, '-p', `127.0.0.1:${freshPort}:8080`, TEST_IMAGE]);
        await pollUntil200(freshPort);
      });
      await run('docker', ['rm', '-f', `${baselineName}-fresh`]);
      const apiFreshPort = await freePort();
      const apiFresh = await timed(async () => {
        const created = await docker.createContainer({
          Image: TEST_IMAGE,
          name: `${baselineName}-fresh`,
          ExposedPorts: { '8080/tcp': {} },
          HostConfig: { Init: true, PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(apiFreshPort) }] } },
        });
        await created.start();
        await pollUntil200(apiFreshPort);
      });
      await docker.getContainer(`${baselineName}-fresh`).remove({ force: true });
      await idle();
      for (const container of await containersOf(instance, 'bench')) await docker.getContainer(container.Id).remove({ force: true });
      const lumaFresh = await timed(async () => {
        const answer = await request(luma.proxyPort, 'bench.localhost');
        if (answer.status !== 200) throw new Error(`luma answered ${answer.status}`);
      });

      // Paused tier: Luma froze the container after 1 s; the request thaws it.
      await run('docker', ['start', baselineName]);
      await pollUntil200(port);
      await baseline.pause();
      const apiPaused = await timed(async () => {
        await baseline.unpause();
        await pollUntil200(port);
      });
      await baseline.stop({ t: 2 });
      if (i === 0) await request(luma.proxyPort, 'benchp.localhost');
      await eventually(async () => (await containersOf(instance, 'benchp')).some((container) => container.State === 'paused'), 20_000, 'luma pause');
      const lumaPaused = await timeToFirstByte(luma.proxyPort, 'benchp.localhost');

      if (keep) {
        samples['docker-api paused']!.push(apiPaused);
        samples['luma paused']!.push(lumaPaused);
        samples['docker-cli stopped']!.push(cliStopped);
        samples['docker-api stopped']!.push(apiStopped);
        samples['luma stopped']!.push(lumaStopped);
        samples['docker-cli fresh']!.push(cliFresh);
        samples['docker-api fresh']!.push(apiFresh);
        samples['luma fresh']!.push(lumaFresh);
      }
      process.stderr.write(`round ${i}/${ITERATIONS}: luma stopped ${lumaStopped.toFixed(0)} ms, fresh ${lumaFresh.toFixed(0)} ms, paused ${lumaPaused.toFixed(1)} ms\n`);
    }
  } finally {
    await luma.stop();
    await removeInstanceContainers(instance);
    await run('docker', ['rm', '-f', baselineName, `${baselineName}-fresh`]).catch(() => undefined);
  }

  const rows = Object.entries(samples).map(([name, values]) => ({ name, p50: percentile(values, 50), p95: percentile(values, 95) }));
  const find = (name: string): { p50: number; p95: number } => rows.find((row) => row.name === name) ?? { p50: NaN, p95: NaN };
  console.log(`\nbench/coldstart: ${ITERATIONS} rounds, ${new Date().toISOString()}, node ${process.version}\n`);
  console.log('| path | p50 ms | p95 ms |');
  console.log('|---|---:|---:|');
  for (const row of rows) console.log(`| ${row.name} | ${row.p50.toFixed(1)} | ${row.p95.toFixed(1)} |`);
  console.log('\n| ratio (Luma / baseline) | p50 | p95 | goal |');
  console.log('|---|---:|---:|---|');
  console.log(`| paused: luma time to first byte p50 | ${find('luma paused').p50.toFixed(1)} ms | | ≤ 20 ms |`);
  for (const tier of ['stopped', 'fresh']) {
    for (const base of ['docker-cli', 'docker-api']) {
      const luma = find(`luma ${tier}`);
      const baseline = find(`${base} ${tier}`);
      console.log(`| ${tier} vs ${base} | ${(luma.p50 / baseline.p50).toFixed(2)} | ${(luma.p95 / baseline.p95).toFixed(2)} | ${base === 'docker-cli' ? '≤ 1.10' : '(reference)'} |`);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
