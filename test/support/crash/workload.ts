import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyFile } from 'node:fs/promises';
import { apiCall } from '../api.js';
import { TEST_IMAGE } from '../docker.js';
import { HTTPD_DOCKERFILE } from '../images.js';
import { projectYaml } from '../project-yaml.js';
import { request, runCli, type LumaProcess } from '../luma.js';
import type { SeededRandom } from '../seeded-random.js';

// The mixed workload the crash harness runs while it kills the controller: applies
// (through the API, the CLI and the manifests directory), cold starts through the proxy,
// lease creates, renewals and deletes, image rebuilds, a project deleted and re-created.
// Operations are started, not awaited: the kill lands in the middle of them.

export const LEASED_PROJECT = 'pooled';
const MAX_LIVE_LEASES = 4;

/** The operator settings of a crash run: everything short, so that a run cycles quickly. */
export const CRASH_CONFIG = [
  'resyncInterval: 1s',
  'stopTimeout: 1s',
  'leases:',
  '  minTtl: 1s',
  '  maxTtl: 5m',
  '  minCpu: 100m',
  '  minMemory: 16Mi',
  '  defaultCpu: 100m',
  '  defaultMemory: 32Mi',
  '  gracePeriod: 1s',
  'pool:',
  '  batchSize: 2',
  '  batchSpacing: 100ms',
  '',
].join('\n');

/** The crash harness's projects answer on `<name>.localhost`; the text ends with a newline. */
const project = (name: string, image: string, extra: string[] = []): string =>
  `${projectYaml(name, image, `${name}.localhost`, extra)}\n`;

const SCALING = (idle: string, max = 1, pause?: string): string[] => [
  '  scaling:',
  '    minInstances: 0',
  `    maxInstances: ${max}`,
  '    targetConcurrency: 1',
  `    idleTimeout: ${idle}`,
  ...(pause ? [`    pauseAfter: ${pause}`] : []),
];

export interface Workload {
  manifests: string;
  /** Counts of operations started, by name. */
  counts: Map<string, number>;
  /** Starts a burst of operations against a running Luma; resolves when they have all settled. */
  burst(luma: LumaProcess, random: SeededRandom, operations: number): Promise<void>;
  /** Changes files in the manifests directory; `luma up` applies them at its next start. */
  editDirectory(random: SeededRandom): Promise<void>;
}

export async function prepareWorkload(dir: string): Promise<Workload> {
  const manifests = path.join(dir, 'manifests');
  const site = path.join(manifests, 'site');
  await mkdir(path.join(site, 'www'), { recursive: true });
  await copyFile('/bin/busybox', path.join(site, 'busybox'));
  await writeFile(path.join(site, 'Dockerfile'), HTTPD_DOCKERFILE);
  await writeFile(path.join(site, 'www', 'index.html'), 'site 0\n');
  const siteYaml = [
    'apiVersion: luma.dev/v1alpha1',
    'kind: Image',
    'metadata:',
    '  name: site',
    'spec:',
    '  build:',
    '    context: ./site',
    '---',
    project('built', 'site', SCALING('2s')),
  ].join('\n');
  await writeFile(path.join(manifests, 'site.yaml'), siteYaml);
  const webYaml = (revision: number): string =>
    project('web', TEST_IMAGE, [...SCALING('2s', 2), '  env:', `    REVISION: "${revision}"`]);
  await writeFile(path.join(manifests, 'web.yaml'), webYaml(0));

  const counts = new Map<string, number>();
  const count = (name: string): void => void counts.set(name, (counts.get(name) ?? 0) + 1);
  let leaseNumber = 0;
  let revision = 0;
  let siteRevision = 0;

  const apiProjects: Record<string, () => string> = {
    paused: () => project('paused', TEST_IMAGE, SCALING('3s', 1, '1s')),
    pooled: () => project(LEASED_PROJECT, TEST_IMAGE, [...SCALING('2s'), '  pool:', '    size: 1']),
    temp: () => project('temp', TEST_IMAGE, [...SCALING('2s'), '  env:', `    REVISION: "${revision}"`]),
  };

  const applyYaml = (luma: LumaProcess, yaml: string): Promise<unknown> =>
    apiCall(luma.api, 'POST', '/apply?source=crash.yaml', {
      rawBody: yaml,
      headers: { 'content-type': 'application/yaml' },
      timeoutMs: 10_000,
    });

  const liveLeases = async (luma: LumaProcess): Promise<Array<{ name: string; phase: string }>> => {
    const answer = await apiCall(luma.api, 'GET', '/api/v1alpha1/leases', { timeoutMs: 5_000 });
    const items =
      (answer.json as { items?: Array<{ metadata: { name: string }; status?: { phase?: string } }> } | undefined)
        ?.items ?? [];
    return items.map((item) => ({ name: item.metadata.name, phase: item.status?.phase ?? 'Pending' }));
  };

  type Operation = (luma: LumaProcess, random: SeededRandom) => Promise<unknown>;
  const operations: Array<[string, number, Operation]> = [
    [
      'cold-start',
      4,
      (luma, random) =>
        request(
          luma.proxyPort,
          `${random.pick(['web', 'built', 'paused', 'temp', LEASED_PROJECT])}.localhost`,
          '/',
          10_000,
        ),
    ],
    [
      'lease-create',
      3,
      async (luma, random) => {
        const leases = await liveLeases(luma);
        if (leases.filter((lease) => lease.phase === 'Active' || lease.phase === 'Pending').length >= MAX_LIVE_LEASES)
          return;
        leaseNumber += 1;
        const name = `l${leaseNumber}-${random.int(0, 9999)}`;
        const body = {
          apiVersion: 'luma.dev/v1alpha1',
          kind: 'Lease',
          metadata: { name },
          spec: { project: LEASED_PROJECT, ttl: `${random.int(2, 15)}s` },
        };
        await apiCall(luma.api, 'PUT', `/api/v1alpha1/leases/${name}`, { body, timeoutMs: 10_000 });
        if (random.chance(0.3)) await request(luma.proxyPort, `${name}.${LEASED_PROJECT}.localhost`, '/', 10_000);
      },
    ],
    [
      'lease-delete',
      2,
      async (luma, random) => {
        const leases = await liveLeases(luma);
        if (leases.length === 0) return;
        await apiCall(luma.api, 'DELETE', `/api/v1alpha1/leases/${random.pick(leases).name}`, { timeoutMs: 10_000 });
      },
    ],
    [
      'lease-renew',
      1,
      async (luma, random) => {
        const active = (await liveLeases(luma)).filter((lease) => lease.phase === 'Active');
        if (active.length === 0) return;
        await apiCall(luma.api, 'POST', `/api/v1alpha1/leases/${random.pick(active).name}/renew`, {
          body: { extend: `${random.int(1, 5)}s` },
          timeoutMs: 10_000,
        });
      },
    ],
    [
      'project-apply',
      2,
      (luma, random) => {
        revision += 1;
        const which = random.pick(Object.keys(apiProjects));
        return applyYaml(luma, (apiProjects[which] as () => string)());
      },
    ],
    ['project-delete', 1, (luma) => apiCall(luma.api, 'DELETE', '/api/v1alpha1/projects/temp', { timeoutMs: 10_000 })],
    [
      'image-apply-cli',
      0.5,
      async (luma) => {
        siteRevision += 1;
        await writeFile(path.join(site, 'www', 'index.html'), `site ${siteRevision}\n`);
        return runCli(['apply', '-f', path.join(manifests, 'site.yaml')], { api: luma.api });
      },
    ],
  ];
  const totalWeight = operations.reduce((sum, [, weight]) => sum + weight, 0);
  const choose = (random: SeededRandom): [string, Operation] => {
    let point = random.next() * totalWeight;
    for (const [name, weight, operation] of operations) {
      point -= weight;
      if (point < 0) return [name, operation];
    }
    const [name, , operation] = operations[0] as [string, number, Operation];
    return [name, operation];
  };

  return {
    manifests,
    counts,
    async burst(luma, random, howMany) {
      const started: Promise<unknown>[] = [];
      for (let i = 0; i < howMany; i += 1) {
        const [name, operation] = choose(random);
        count(name);
        // Failures are expected: the controller is killed under these requests.
        started.push(operation(luma, random).catch(() => undefined));
        await new Promise((resolve) => setTimeout(resolve, random.int(0, 150)));
      }
      await Promise.allSettled(started);
    },
    async editDirectory(random) {
      if (random.chance(0.5)) {
        revision += 1;
        await writeFile(path.join(manifests, 'web.yaml'), webYaml(revision));
        count('dir-project-edit');
      } else {
        siteRevision += 1;
        await writeFile(path.join(site, 'www', 'index.html'), `site ${siteRevision}\n`);
        count('dir-image-edit');
      }
    },
  };
}

/** The projects the API creates at the start of a run (the directory holds the others). */
export async function seedApiProjects(luma: LumaProcess): Promise<void> {
  for (const yaml of [
    project('paused', TEST_IMAGE, SCALING('3s', 1, '1s')),
    project(LEASED_PROJECT, TEST_IMAGE, [...SCALING('2s'), '  pool:', '    size: 1']),
    project('temp', TEST_IMAGE, SCALING('2s')),
  ]) {
    const answer = await apiCall(luma.api, 'POST', '/apply?source=seed.yaml', {
      rawBody: yaml,
      headers: { 'content-type': 'application/yaml' },
    });
    if (answer.status !== 200) throw new Error(`seeding the projects: HTTP ${answer.status} ${answer.text}`);
  }
}
