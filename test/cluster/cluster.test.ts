import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseObject } from '../../src/model/types.js';
import { buildTestImage, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';
import { startTestCluster, type ClusterNode, type TestCluster } from '../support/cluster.js';

// `make test-cluster` (issue 22, docs/cluster.md): three swarm nodes, each a Docker engine in
// a network namespace of its own on this machine, a registry and PostgreSQL
// (test/support/cluster.ts); three `luma up` on the host sharing the database, one per
// "node", each with its proxy. 30 projects are applied and woken by traffic through every
// proxy; their instances spread over the three nodes; a worker node is lost and its
// projects answer again from the others; the leading controller is SIGKILLed under
// traffic and another leads within 5 s, with no duplicate instance, no orphan and one bill
// per lease. The figures it prints go to docs/cluster.md.

const PROJECTS = 30;
const LEASES = 6;
/** The issue's bound for another controller to lead, and what a shared, loaded machine adds. */
const TAKEOVER_BOUND_MS = 5_000;
const LOAD_MARGIN_MS = 2_000;
const WAKE_CONCURRENCY = 6;

interface Task {
  ServiceID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}
interface Service {
  ID: string;
  Spec: { Name: string; Labels: Record<string, string> };
}

const names = Array.from({ length: PROJECTS }, (_, index) => `app${String(index + 1).padStart(2, '0')}`);

function figure(line: string): void {
  console.log(`cluster figure: ${line}`);
}

describe('Luma on a three-node swarm', () => {
  const instance = testInstance('cl');
  let cluster: TestCluster;
  let url: string;
  let dir: string;
  const lumas: LumaProcess[] = [];
  const dead = new Set<LumaProcess>();

  beforeAll(async () => {
    await buildTestImage();
    cluster = await startTestCluster();
    url = await cluster.postgres.createDatabase();
    dir = await tempDir('cluster');
    // Leases short enough to end within the test (the default minimum is 5 minutes).
    const config = await writeConfig(dir, {
      resyncInterval: '1s',
      stopTimeout: '2s',
      leases: '\n  minTtl: 5s\n  gracePeriod: 2s',
    });
    for (const name of ['a', 'b', 'c']) {
      await mkdir(path.join(dir, `manifests-${name}`));
      lumas.push(
        await startLuma({
          stateDir: path.join(dir, `state-${name}`),
          manifests: path.join(dir, `manifests-${name}`),
          instance,
          config,
          args: ['--store', url, '--runtime', 'swarm', '--registry', cluster.registry],
          env: { DOCKER_HOST: cluster.manager.engine.host, LUMA_LOG_LEVEL: 'info' },
          startTimeoutMs: 60_000,
        }),
      );
    }
  }, 240_000);

  afterAll(async () => {
    for (const luma of lumas) await luma.kill();
    await cluster?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 240_000);

  const alive = (): LumaProcess[] => lumas.filter((luma) => !dead.has(luma));

  async function leads(luma: LumaProcess): Promise<boolean> {
    const answer = await apiFetch(luma.api, '/healthz').catch(() => undefined);
    return ((await answer?.json().catch(() => ({}))) as { leader?: boolean }).leader === true;
  }

  async function leader(): Promise<LumaProcess> {
    return eventually(
      async () => {
        for (const luma of alive()) if (await leads(luma)) return luma;
        return undefined;
      },
      20_000,
      'a leading controller',
    );
  }

  async function apply(manifests: string[], file: string): Promise<void> {
    const target = path.join(dir, file);
    await writeFile(target, manifests.join('---\n'));
    const applied = await runCli(['apply', '-f', target], { api: alive()[0]!.api });
    expect(applied.code, `${applied.stderr}\n${alive()[0]!.output().slice(-3_000)}`).toBe(0);
  }

  /** Luma's services of this run, with their running tasks' nodes. */
  async function placement(): Promise<{ services: Service[]; nodeOf: Map<string, string> }> {
    const client = cluster.manager.engine.client;
    const services = (await client.listServices({
      filters: { label: [`luma.dev/instance=${instance}`] },
    })) as unknown as Service[];
    const tasks = (await client.listTasks({ filters: { 'desired-state': ['running'] } })) as Task[];
    const nodeOf = new Map<string, string>();
    for (const task of tasks) if (task.Status.State === 'running') nodeOf.set(task.ServiceID, nodeName(task.NodeID));
    return { services, nodeOf };
  }

  function nodeName(id: string): string {
    return cluster.nodes.find((node) => node.id === id)?.name ?? id;
  }

  /** Project name → node its instance runs on. */
  async function projectNodes(): Promise<Map<string, string>> {
    const { services, nodeOf } = await placement();
    const found = new Map<string, string>();
    for (const service of services) {
      const labels = service.Spec.Labels;
      const node = nodeOf.get(service.ID);
      if (labels['luma.dev/kind'] === 'Project' && !labels['luma.dev/lease-uid'] && node)
        found.set(labels['luma.dev/name']!, node);
    }
    return found;
  }

  /** Answers 200 through the proxy at `port` within `timeoutMs`, retrying; how long that took. */
  async function answers(port: number, name: string, timeoutMs: number): Promise<number> {
    const started = performance.now();
    await eventually(
      async () => (await request(port, `${name}.localhost`, '/', 5_000).catch(() => undefined))?.status === 200,
      timeoutMs,
      `${name} answering through port ${port}`,
    );
    return performance.now() - started;
  }

  async function inBatches<T>(
    items: readonly T[],
    size: number,
    each: (item: T, index: number) => Promise<void>,
  ): Promise<void> {
    for (let start = 0; start < items.length; start += size)
      await Promise.all(items.slice(start, start + size).map((item, offset) => each(item, start + offset)));
  }

  it('applies 30 projects, wakes them through every proxy, and spreads them over the three nodes', async () => {
    await leader();
    await apply(
      names.map((name) =>
        projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], idleTimeout: '30m' }),
      ),
      'projects.yaml',
    );
    const started = performance.now();
    await inBatches(names, WAKE_CONCURRENCY, async (name, index) => {
      await answers(lumas[index % lumas.length]!.proxyPort, name, 120_000);
    });
    figure(`30 projects woken (6 at a time, first pulls included) in ${Math.round(performance.now() - started)} ms`);
    // Every proxy serves every project, whichever controller leads.
    for (const luma of lumas) for (const name of names.slice(0, 5)) await answers(luma.proxyPort, name, 15_000);
    const where = await projectNodes();
    expect(where.size).toBe(PROJECTS);
    const perNode = cluster.nodes.map((node) => [...where.values()].filter((name) => name === node.name).length);
    figure(`instances per node: ${cluster.nodes.map((node, i) => `${node.name} ${perNode[i]}`).join(', ')}`);
    for (const count of perNode) expect(count).toBeGreaterThan(0);
  }, 400_000);

  it('loses a worker node, and its projects answer again from the others', async () => {
    const where = await projectNodes();
    const workers = cluster.nodes.filter((node) => node !== cluster.manager);
    const count = (node: ClusterNode): number => [...where.values()].filter((name) => name === node.name).length;
    const victim = workers.sort((x, y) => count(y) - count(x))[0]!;
    const stranded = [...where.entries()].filter(([, node]) => node === victim.name).map(([name]) => name);
    expect(stranded.length).toBeGreaterThan(0);
    const killedAt = performance.now();
    await cluster.killNode(victim);
    const recovered: number[] = [];
    await Promise.all(
      stranded.map(async (name, index) => {
        await answers(lumas[index % lumas.length]!.proxyPort, name, 180_000);
        recovered.push(performance.now() - killedAt);
      }),
    );
    const sorted = recovered.sort((x, y) => x - y);
    figure(
      `${victim.name} lost with ${stranded.length} instances: first answered again after ${Math.round(sorted[0]!)} ms, ` +
        `median ${Math.round(sorted[Math.floor(sorted.length / 2)]!)} ms, last ${Math.round(sorted.at(-1)!)} ms`,
    );
    const after = await projectNodes();
    for (const name of stranded) expect(after.get(name)).not.toBe(victim.name);
    for (const name of names) await answers(lumas[0]!.proxyPort, name, 30_000);
  }, 400_000);

  it('SIGKILLs the leader under traffic: another leads within 5 s, no duplicate, no orphan, one bill per lease', async () => {
    const leases = Array.from({ length: LEASES }, (_, index) => `l${index + 1}`);
    await apply(
      leases.map((lease, index) =>
        [
          'apiVersion: luma.dev/v1alpha1',
          'kind: Lease',
          'metadata:',
          `  name: ${lease}`,
          'spec:',
          `  project: ${names[index]}`,
          '  ttl: 25s',
          '',
        ].join('\n'),
      ),
      'leases.yaml',
    );
    const leaseOf = async (name: string): Promise<LeaseObject | undefined> => {
      const got = await runCli(['get', 'lease', name, '-o', 'json'], { api: alive()[0]!.api });
      return got.code === 0 ? (JSON.parse(got.stdout) as LeaseObject) : undefined;
    };
    for (const lease of leases)
      await eventually(async () => (await leaseOf(lease))?.status?.phase === 'Active', 60_000, `lease ${lease} Active`);

    const old = await leader();
    const others = alive().filter((luma) => luma !== old);
    const traffic = startTraffic(others.map((luma) => luma.proxyPort));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const killedAt = performance.now();
    await old.kill();
    dead.add(old);
    const next = await leader();
    const takeoverMs = performance.now() - killedAt;
    figure(`leader SIGKILLed under traffic: another led after ${Math.round(takeoverMs)} ms`);
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS + LOAD_MARGIN_MS);
    expect(others).toContain(next);

    for (const lease of leases)
      await eventually(
        async () => (await leaseOf(lease))?.status?.phase === 'Expired',
        90_000,
        `lease ${lease} Expired`,
      );
    const sent = await traffic.stop();
    figure(
      `traffic through the surviving proxies during the takeover: ${sent.ok} answered 200, ${sent.failed.length} failed`,
    );
    expect(sent.failed).toEqual([]);

    const uids = await Promise.all(leases.map(async (lease) => (await leaseOf(lease))?.metadata.uid ?? lease));
    expect(await billsPerLease(uids)).toEqual(uids.map(() => 1));
    await expectNoDuplicateNorOrphan();
  }, 400_000);

  function startTraffic(ports: number[]): { stop(): Promise<{ ok: number; failed: string[] }> } {
    let running = true;
    let ok = 0;
    const failed: string[] = [];
    const loop = async (worker: number): Promise<void> => {
      // Bounded: the test stops it, and no loop outlives 3 minutes.
      const deadline = Date.now() + 180_000;
      for (let i = worker; running && Date.now() < deadline; i += 3) {
        const name = names[(i * 7) % PROJECTS]!;
        const port = ports[i % ports.length]!;
        const answer = await request(port, `${name}.localhost`, '/', 10_000).catch((error: Error) => error);
        if (!(answer instanceof Error) && answer.status === 200) ok++;
        else failed.push(`${name} via ${port}: ${answer instanceof Error ? answer.message : answer.status}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const loops = [0, 1, 2].map((worker) => loop(worker));
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
        return { ok, failed };
      },
    };
  }

  async function billsPerLease(uids: string[]): Promise<number[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ lease_uid: string }>('SELECT lease_uid FROM luma_usage');
      return uids.map((uid) => rows.filter((row) => row.lease_uid === uid).length);
    } finally {
      await client.end();
    }
  }

  /** One service per project and none left of an ended lease; every container on a live node belongs to a service. */
  async function expectNoDuplicateNorOrphan(): Promise<void> {
    const { services } = await eventually(
      async () => {
        const found = await placement();
        const leaseLeft = found.services.some(
          (s) => s.Spec.Labels['luma.dev/kind'] === 'Lease' || s.Spec.Labels['luma.dev/lease-uid'],
        );
        return leaseLeft ? undefined : found;
      },
      60_000,
      'the ended leases’ services removed',
    );
    const owners = services.map((s) => s.Spec.Labels['luma.dev/name']);
    expect(owners.sort()).toEqual([...names].sort());
    const ids = new Set(services.map((s) => s.ID));
    for (const node of cluster.nodes) {
      if (
        node.name !== cluster.manager.name &&
        !(await node.engine.client.ping().then(
          () => true,
          () => false,
        ))
      )
        continue;
      const containers = await node.engine.client.listContainers({
        filters: { label: [`luma.dev/instance=${instance}`], status: ['running'] },
      });
      for (const container of containers) expect(ids).toContain(container.Labels['com.docker.swarm.service.id']);
    }
  }
});
