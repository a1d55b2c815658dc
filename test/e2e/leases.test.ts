import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseObject, ProjectObject } from '../../src/model/types.js';
import { buildTestImage, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  type LumaProcess,
} from '../support/luma.js';
import { startBackend, type BackendName, type RuntimeBackend } from '../support/runtime-backend.js';
import { E2E_BACKENDS } from '../support/long-run.js';

// Pools and leases through a real `luma up`, real containers and the CLI: claims from the
// pool, fresh starts, expiry on time with the bill in the ledger, limits, caps, renewal,
// the grace period, and a controller killed while leases live. Run on the machine's
// Docker engine and with `--runtime swarm` on a one-node swarm of its own (issue 22).

const PRICES = { vcpuSecond: 0.001, gibSecond: 0.0005 };
const GiB = 1024 ** 3;

function leaseManifest(
  name: string,
  spec: { project: string; ttl: string; cpu?: string; memory?: string; env?: Record<string, string> },
): string {
  const lines = [
    'apiVersion: luma.dev/v1alpha1',
    'kind: Lease',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  project: ${spec.project}`,
    `  ttl: ${spec.ttl}`,
  ];
  if (spec.cpu || spec.memory)
    lines.push(
      '  resources:',
      ...(spec.cpu ? [`    cpu: ${spec.cpu}`] : []),
      ...(spec.memory ? [`    memory: ${spec.memory}`] : []),
    );
  if (spec.env) lines.push('  env:', ...Object.entries(spec.env).map(([key, value]) => `    ${key}: "${value}"`));
  return lines.join('\n') + '\n';
}

describe.each<BackendName>(E2E_BACKENDS)('pools and leases (%s runtime)', (backendName) => {
  const instance = testInstance(`leases-${backendName}`);
  let backend: RuntimeBackend;
  let luma: LumaProcess;
  let dir: string;
  let stateDir: string;
  let config: string;

  beforeAll(async () => {
    await buildTestImage();
    backend = await startBackend(backendName);
    dir = await tempDir('leases');
    stateDir = path.join(dir, 'state');
    await mkdir(path.join(dir, 'manifests'));
    config = path.join(dir, 'config.yaml');
    // Test-lowered bounds so that leases expire within seconds.
    await writeFile(
      config,
      [
        'resyncInterval: 1s',
        'leases:',
        '  minTtl: 1s',
        '  maxTtl: 1m',
        '  minCpu: 100m',
        '  maxCpu: 1000m',
        '  minMemory: 32Mi',
        '  maxMemory: 512Mi',
        '  defaultCpu: 250m',
        '  defaultMemory: 64Mi',
        '  gracePeriod: 2s',
        'prices:',
        `  vcpuSecond: ${PRICES.vcpuSecond}`,
        `  gibSecond: ${PRICES.gibSecond}`,
        '  currency: EUR',
        'pool:',
        '  batchSize: 2',
        '  batchSpacing: 300ms',
        'imageAllowlist:',
        `  - ${TEST_IMAGE}`,
        '',
      ].join('\n'),
    );
    luma = await start();
  });

  function start(): Promise<LumaProcess> {
    const manifests = path.join(dir, 'manifests');
    return startLuma({ stateDir, manifests, instance, config, args: backend.args, env: backend.env });
  }

  afterAll(async () => {
    await luma?.stop();
    await backend?.close(instance);
    await rm(dir, { recursive: true, force: true });
  });

  async function apply(text: string, file: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const target = path.join(dir, file);
    await writeFile(target, text);
    return runCli(['apply', '-f', target], { api: luma.api });
  }

  async function applyProject(name: string, extra: string[] = []): Promise<void> {
    const text =
      projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`] }) +
      extra.join('\n') +
      (extra.length ? '\n' : '');
    const result = await apply(text, `${name}.yaml`);
    expect(result.code, result.stderr).toBe(0);
  }

  async function getJson<T>(what: string): Promise<T> {
    const result = await runCli(['get', ...what.split(' '), '-o', 'json'], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  async function leaseOf(name: string): Promise<LeaseObject> {
    return getJson<LeaseObject>(`lease ${name}`);
  }

  function poolContainers(project: string): Promise<string[]> {
    return backend.unclaimedPool(instance, project);
  }

  it('pool.size: 3 gives three ready containers; a claim takes one, answers at its hostname, and the pool refills', async () => {
    await applyProject('pool', ['  pool:', '    size: 3']);
    await eventually(async () => (await poolContainers('pool')).length === 3, 30_000, 'three pool containers');
    await eventually(
      async () => (await getJson<ProjectObject>('project pool')).status?.pool?.ready === 3,
      15_000,
      'status.pool.ready = 3',
    );
    const before = new Set(await poolContainers('pool'));

    const result = await apply(leaseManifest('l1', { project: 'pool', ttl: '1m' }), 'l1.yaml');
    expect(result.code, result.stderr).toBe(0);
    const active = await eventually(
      async () => {
        const lease = await leaseOf('l1');
        return lease.status?.phase === 'Active' ? lease : undefined;
      },
      15_000,
      'lease l1 Active',
    );
    expect(active.status?.fromPool).toBe(true);
    const answer = await request(luma.proxyPort, 'l1.pool.localhost');
    expect(answer.status).toBe(200);

    const claimed = (await backend.leaseInstances(instance, 'l1'))[0];
    expect(claimed && before.has(claimed)).toBe(true);
    // Refilled: three unclaimed again, none of them the claimed one.
    await eventually(
      async () => {
        const now = await poolContainers('pool');
        return now.length === 3 && claimed !== undefined && !now.includes(claimed);
      },
      30_000,
      'the pool refilled to three',
    );
    await runCli(['delete', 'lease', 'l1'], { api: luma.api });
  });

  it('expires on time, removes the container, and the ledger bills runtime × prices', async () => {
    await applyProject('bill');
    const result = await apply(
      leaseManifest('short', { project: 'bill', ttl: '3s', cpu: '500m', memory: '128Mi' }),
      'short.yaml',
    );
    expect(result.code, result.stderr).toBe(0);
    const active = await eventually(
      async () => {
        const lease = await leaseOf('short');
        return lease.status?.phase === 'Active' ? lease : undefined;
      },
      15_000,
      'lease short Active',
    );
    expect(active.status?.fromPool).toBe(false);

    // The limits are on the container.
    const container = (await backend.leaseInstances(instance, 'short'))[0];
    expect(container).toBeDefined();
    expect(await backend.limitsOf(container!)).toEqual({ nanoCpus: 500_000_000, memory: 128 * 1024 * 1024 });

    const expiresAt = Date.parse(active.status?.expiresAt ?? '');
    const expired = await eventually(
      async () => {
        const lease = await leaseOf('short');
        return lease.status?.phase === 'Expired' ? lease : undefined;
      },
      15_000,
      'lease short Expired',
    );
    const stoppedAt = Date.parse(expired.status?.endedAt ?? '');
    expect(stoppedAt - expiresAt).toBeGreaterThanOrEqual(0);
    expect(stoppedAt - expiresAt).toBeLessThan(backend.stopWithinMs);
    expect(await backend.leaseInstances(instance, 'short')).toEqual([]);

    const runtimeSeconds = (stoppedAt - Date.parse(expired.status?.startedAt ?? '')) / 1000;
    const expected = runtimeSeconds * (0.5 * PRICES.vcpuSecond + ((128 * 1024 * 1024) / GiB) * PRICES.gibSecond);
    expect(expired.status?.cost).toBeCloseTo(expected, 6);
    const usage = await getJson<{
      leases: Array<{ lease: string; cost: number; runtimeSeconds: number; currency: string }>;
    }>('usage');
    const record = usage.leases.find((entry) => entry.lease === 'short');
    expect(record?.cost).toBeCloseTo(expected, 6);
    expect(record?.currency).toBe('EUR');
  });

  it('a project deleted while its lease is Active ends the lease at once, billed once for what it ran', async () => {
    await applyProject('doomed');
    expect((await apply(leaseManifest('orphaned', { project: 'doomed', ttl: '1m' }), 'orphaned.yaml')).code).toBe(0);
    const active = await eventually(
      async () => {
        const lease = await leaseOf('orphaned');
        return lease.status?.phase === 'Active' ? lease : undefined;
      },
      15_000,
      'lease orphaned Active',
    );
    // Settled: no reconcile of the lease is still under way or queued when its project goes.
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    const answer = await apiFetch(luma.api, '/api/v1alpha1/projects/doomed', { method: 'DELETE' });
    expect(answer.status).toBe(200);
    // The server's own time of the delete, the same clock as the lease's endedAt.
    const deletedAt = Date.parse(((await answer.json()) as ProjectObject).metadata.deletionTimestamp ?? '');
    expect(deletedAt).toBeGreaterThan(0);
    const ended = await eventually(
      async () => {
        const lease = await leaseOf('orphaned');
        return lease.status?.phase === 'Failed' && lease.status.cost !== undefined ? lease : undefined;
      },
      15_000,
      'lease orphaned ended',
    );
    const endedAt = Date.parse(ended.status?.endedAt ?? '');
    expect(endedAt - deletedAt).toBeGreaterThanOrEqual(0);
    expect(endedAt - deletedAt).toBeLessThan(backend.stopWithinMs);
    expect(await backend.leaseInstances(instance, 'orphaned')).toEqual([]);

    const usage = await getJson<{
      leases: Array<{ lease: string; runtimeSeconds: number; startedAt: string; endedAt: string }>;
    }>('usage');
    const records = usage.leases.filter((entry) => entry.lease === 'orphaned');
    expect(records).toHaveLength(1);
    expect(records[0]?.startedAt).toBe(active.status?.startedAt);
    expect(records[0]?.runtimeSeconds).toBeCloseTo((endedAt - Date.parse(active.status?.startedAt ?? '')) / 1000, 1);
    await runCli(['delete', 'lease', 'orphaned'], { api: luma.api });
  });

  it('refuses out-of-bounds values and disallowed images, naming the limit or rule, and stores nothing', async () => {
    const tooLong = await apply(leaseManifest('long', { project: 'bill', ttl: '2h' }), 'long.yaml');
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toMatch(/spec\.ttl.*1m.*leases\.maxTtl/);
    const tooBig = await apply(leaseManifest('big', { project: 'bill', ttl: '10s', memory: '4Gi' }), 'big.yaml');
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toMatch(/spec\.resources\.memory.*512Mi.*leases\.maxMemory/);
    const disallowed = await apply(
      projectManifest('evil', { image: 'registry.example.com/evil:1', hostnames: ['evil.localhost'] }),
      'evil.yaml',
    );
    expect(disallowed.code).not.toBe(0);
    expect(disallowed.stderr).toMatch(/registry\.example\.com\/evil:1.*imageAllowlist/);
    for (const what of ['lease long', 'lease big', 'project evil']) {
      expect((await runCli(['get', ...what.split(' ')], { api: luma.api })).code).not.toBe(0);
    }
  });

  it('renewal moves expiresAt and is refused beyond the maximum', async () => {
    const result = await apply(leaseManifest('renew', { project: 'bill', ttl: '20s' }), 'renew.yaml');
    expect(result.code, result.stderr).toBe(0);
    const active = await eventually(
      async () => {
        const lease = await leaseOf('renew');
        return lease.status?.phase === 'Active' ? lease : undefined;
      },
      15_000,
      'lease renew Active',
    );
    const renewed = await runCli(['renew', 'lease/renew', '10s'], { api: luma.api });
    expect(renewed.code, renewed.stderr).toBe(0);
    const after = await leaseOf('renew');
    expect(Date.parse(after.status?.expiresAt ?? '') - Date.parse(active.status?.expiresAt ?? '')).toBe(10_000);
    const refused = await runCli(['renew', 'lease/renew', '1m'], { api: luma.api });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/1m.*leases\.maxTtl/);
    expect((await leaseOf('renew')).status?.expiresAt).toBe(after.status?.expiresAt);
    await runCli(['delete', 'lease', 'renew'], { api: luma.api });
  });

  it('leases over the project cap wait Pending and start in order when others end', async () => {
    await applyProject('capped', ['  leases:', '    maxConcurrent: 1']);
    for (const name of ['cap-a', 'cap-b', 'cap-c']) {
      const result = await apply(leaseManifest(name, { project: 'capped', ttl: '1m' }), `${name}.yaml`);
      expect(result.code, result.stderr).toBe(0);
    }
    await eventually(async () => (await leaseOf('cap-a')).status?.phase === 'Active', 15_000, 'cap-a Active');
    const waiting = await leaseOf('cap-b');
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.conditions?.find((condition) => condition.type === 'Ready')?.message).toMatch(
      /maxConcurrent/,
    );
    await runCli(['delete', 'lease', 'cap-a'], { api: luma.api });
    await eventually(
      async () => (await leaseOf('cap-b')).status?.phase === 'Active',
      15_000,
      'cap-b Active after cap-a ended',
    );
    expect((await leaseOf('cap-c')).status?.phase).toBe('Pending');
    await runCli(['delete', 'lease', 'cap-b'], { api: luma.api });
    await eventually(
      async () => (await leaseOf('cap-c')).status?.phase === 'Active',
      15_000,
      'cap-c Active after cap-b ended',
    );
    await runCli(['delete', 'lease', 'cap-c'], { api: luma.api });
  });

  it('an app that ignores SIGTERM is killed after the grace period', async () => {
    const stubborn = projectManifest('stubborn', {
      image: TEST_IMAGE,
      hostnames: ['stubborn.localhost'],
      command: [
        '/bin/busybox',
        'sh',
        '-c',
        'trap "" TERM; /bin/busybox httpd -f -p 8080 -h /www & while true; do sleep 1; done',
      ],
    });
    expect((await apply(stubborn, 'stubborn.yaml')).code).toBe(0);
    expect((await apply(leaseManifest('hold', { project: 'stubborn', ttl: '1m' }), 'hold.yaml')).code).toBe(0);
    await eventually(async () => (await leaseOf('hold')).status?.phase === 'Active', 15_000, 'hold Active');
    const deletedAt = Date.now();
    const deleted = await runCli(['delete', 'lease', 'hold'], { api: luma.api });
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(
      async () => (await runCli(['get', 'lease', 'hold'], { api: luma.api })).code !== 0,
      20_000,
      'lease hold gone',
    );
    // Gone only after the 2 s grace: SIGTERM was ignored, SIGKILL ended it.
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(2_000);
    expect(await backend.leaseInstances(instance, 'hold')).toEqual([]);
    const usage = await getJson<{ leases: Array<{ lease: string; reason: string }> }>('usage');
    expect(usage.leases.find((entry) => entry.lease === 'hold')?.reason).toBe('Released');
  });

  it('a controller killed while leases live ends an expired one at once on restart, bills its real runtime, and leaves no orphan', async () => {
    expect((await apply(leaseManifest('survivor', { project: 'bill', ttl: '3s' }), 'survivor.yaml')).code).toBe(0);
    const active = await eventually(
      async () => {
        const lease = await leaseOf('survivor');
        return lease.status?.phase === 'Active' ? lease : undefined;
      },
      15_000,
      'survivor Active',
    );
    await luma.kill();
    // Down past the expiry: the container keeps running meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const downUntil = Date.now();
    luma = await start();
    const ended = await eventually(
      async () => {
        const lease = await leaseOf('survivor');
        return lease.status?.phase === 'Expired' ? lease : undefined;
      },
      15_000,
      'survivor Expired after restart',
    );
    const runtimeSeconds =
      (Date.parse(ended.status?.endedAt ?? '') - Date.parse(active.status?.startedAt ?? '')) / 1000;
    expect(runtimeSeconds).toBeGreaterThanOrEqual((downUntil - Date.parse(active.status?.startedAt ?? '')) / 1000);
    const usage = await getJson<{ leases: Array<{ lease: string; runtimeSeconds: number }> }>('usage');
    expect(usage.leases.filter((entry) => entry.lease === 'survivor')).toHaveLength(1);
    // Every container left has an owner that exists.
    const leases = new Set(
      (await getJson<{ items: LeaseObject[] }>('leases')).items.map((lease) => lease.metadata.name),
    );
    const projects = new Set(
      (await getJson<{ items: ProjectObject[] }>('projects')).items.map((project) => project.metadata.name),
    );
    await eventually(
      async () => {
        for (const { lease, project } of await backend.ownersOf(instance)) {
          if (lease ? !leases.has(lease) : !projects.has(project ?? '')) return false;
        }
        return true;
      },
      15_000,
      'no container without an owner',
    );
  });
});
