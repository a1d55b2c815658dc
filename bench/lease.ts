// bench/lease: from creating a Lease to the first byte at its hostname, for a lease that
// claims a pooled container and for one that starts fresh, in the same run.
//
//   npx tsx bench/lease.ts [--iterations N]
//
// Each round creates a lease through the API (PUT) and at once sends a request to
// `<lease>.<project host>` through Luma's proxy; the proxy holds it until the lease's
// container answers, so the time to its first byte is create → first byte. Rounds of the
// two kinds are interleaved so that machine noise hits them alike; after each pool round
// the pool is left to refill before the next. For scale, `docker run` of the same image
// until its first HTTP 200 is measured in the same run.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  buildTestImage,
  containersOf,
  removeInstanceContainers,
  TEST_IMAGE,
  testInstance,
} from '../test/support/docker.js';
import { eventually, projectManifest, runCli, startLuma, tempDir } from '../test/support/luma.js';
import { freePort, option, percentile } from './lib/common.js';

const run = promisify(execFile);

if (process.argv.includes('--help')) {
  process.stdout.write('usage: npx tsx bench/lease.ts [--iterations N (default 15)]\n');
  process.exit(0);
}
const ITERATIONS = option('--iterations', 15);
const POOL_SIZE = 2;

function send(options: http.RequestOptions, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent: false, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Milliseconds from the PUT of the lease to the first byte of its app's answer. */
async function createToFirstByte(apiPort: number, proxyPort: number, lease: string, project: string): Promise<number> {
  const object = {
    apiVersion: 'luma.dev/v1alpha1',
    kind: 'Lease',
    metadata: { name: lease },
    spec: { project, ttl: '10m' },
  };
  const start = process.hrtime.bigint();
  const created = await send(
    {
      host: '127.0.0.1',
      port: apiPort,
      method: 'PUT',
      path: `/api/v1alpha1/leases/${lease}`,
      headers: { 'content-type': 'application/json' },
    },
    JSON.stringify(object),
  );
  if (created.status >= 300) throw new Error(`creating lease ${lease}: ${created.status} ${created.body}`);
  for (;;) {
    const elapsed = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: proxyPort,
          path: '/',
          headers: { host: `${lease}.${project}.localhost` },
          agent: false,
        },
        (res) => {
          const at = Number(process.hrtime.bigint() - start) / 1e6;
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200 ? at : -(res.statusCode ?? 1)));
        },
      );
      req.on('error', reject);
    });
    if (elapsed > 0) return elapsed;
    // The route appears with the lease's first reconcile; until then the host is unknown (404).
    if (elapsed !== -404) throw new Error(`lease ${lease} answered ${-elapsed}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function dockerRunToFirstByte(name: string): Promise<number> {
  const port = await freePort();
  const start = process.hrtime.bigint();
  await run('docker', ['run', '-d', '--init', '--name', name, '-p', `127.0.0.1:${port}:8080`, TEST_IMAGE]);
  for (;;) {
    const status = await send({ host: '127.0.0.1', port, path: '/' }).then(
      (answer) => answer.status,
      () => 0,
    );
    if (status === 200) return Number(process.hrtime.bigint() - start) / 1e6;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function main(): Promise<void> {
  await buildTestImage();
  const instance = testInstance('bench-lease');
  const dir = await tempDir('bench-lease');
  await mkdir(path.join(dir, 'manifests'));
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'resyncInterval: 30s',
      'leases:',
      '  gracePeriod: 1s',
      '  maxActive: 100',
      'pool:',
      `  batchSize: ${POOL_SIZE}`,
      '  batchSpacing: 100ms',
      '',
    ].join('\n'),
  );
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
  });
  const samples: Record<'pool claim' | 'fresh start' | 'docker run (reference)', number[]> = {
    'pool claim': [],
    'fresh start': [],
    'docker run (reference)': [],
  };
  try {
    const manifests = path.join(dir, 'projects.yaml');
    await writeFile(
      manifests,
      projectManifest('pooled', { image: TEST_IMAGE, hostnames: ['pooled.localhost'] }) +
        `  pool:\n    size: ${POOL_SIZE}\n---\n` +
        projectManifest('fresh', { image: TEST_IMAGE, hostnames: ['fresh.localhost'] }),
    );
    const applied = await runCli(['apply', '-f', manifests], { api: luma.api });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const poolFull = async (): Promise<void> => {
      await eventually(
        async () =>
          (await containersOf(instance, 'pooled')).filter(
            (container) => container.Labels['luma.dev/role'] === 'pool' && container.State === 'running',
          ).length === POOL_SIZE,
        30_000,
        'a full pool',
      );
      // Running is not yet ready: give the readiness probe its moment.
      await new Promise((resolve) => setTimeout(resolve, 300));
    };

    for (let i = 0; i < ITERATIONS + 1; i++) {
      const keep = i > 0; // the first round warms caches and is discarded
      await poolFull();
      const pooled = await createToFirstByte(luma.apiPort, luma.proxyPort, `p${i}`, 'pooled');
      const fresh = await createToFirstByte(luma.apiPort, luma.proxyPort, `f${i}`, 'fresh');
      const reference = await dockerRunToFirstByte(`luma-bench-lease-ref-${process.pid}-${i}`);
      await run('docker', ['rm', '-f', `luma-bench-lease-ref-${process.pid}-${i}`]);
      for (const lease of [`p${i}`, `f${i}`]) await runCli(['delete', 'lease', lease], { api: luma.api });
      if (keep) {
        samples['pool claim'].push(pooled);
        samples['fresh start'].push(fresh);
        samples['docker run (reference)'].push(reference);
      }
      process.stderr.write(
        `round ${i}${keep ? '' : ' (warm-up)'}: pool ${pooled.toFixed(1)} ms, fresh ${fresh.toFixed(1)} ms, docker run ${reference.toFixed(1)} ms\n`,
      );
    }
  } finally {
    await luma.stop();
    await removeInstanceContainers(instance);
  }

  const referenceP50 = percentile(samples['docker run (reference)'], 50);
  process.stdout.write(`\nbench/lease: create → first byte, ${ITERATIONS} rounds\n\n`);
  process.stdout.write(
    `${'path'.padEnd(24)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p50 / docker run'.padStart(20)}\n`,
  );
  for (const [name, values] of Object.entries(samples)) {
    const p50 = percentile(values, 50);
    process.stdout.write(
      `${name.padEnd(24)}${p50.toFixed(1).padStart(10)}${percentile(values, 95).toFixed(1).padStart(10)}${(p50 / referenceP50).toFixed(2).padStart(20)}\n`,
    );
  }
  const poolP50 = percentile(samples['pool claim'], 50);
  process.stdout.write(
    `\ngoal: pool claim p50 <= 30 ms: ${poolP50 <= 30 ? 'met' : 'NOT met'} (${poolP50.toFixed(1)} ms)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
