import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_PREFIX, createApiServer } from '../../../src/api/server.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { API_VERSION } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import type { UsageRecord } from '../../../src/usage/record.js';
import type { UsageSummary } from '../../../src/usage/summary.js';
import { usageRecord } from '../../support/usage-records.js';
import { authorizedInject } from '../../support/api-token.js';
import { testApiOptions } from '../../support/api-server.js';

// The API's write paths enforce the operator's rules, and GET /usage serves the ledger.

let dir: string;
let store: FileStore;
let app: FastifyInstance;
const inject = authorizedInject(() => app);
let records: UsageRecord[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-api-'));
  store = await FileStore.open(path.join(dir, 'state'));
  records = [];
  app = await createApiServer(
    testApiOptions(store, dir, {
      admission: { ...DEFAULT_SETTINGS, imageAllowlist: ['busybox', 'luma/**'] },
      usage: { records: () => records },
    }),
  );
});

afterEach(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const project = (image: string): string =>
  `apiVersion: ${API_VERSION}\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: ${image}\n  hostnames: [web.localhost]\n`;
const lease = (ttl: string): string =>
  `apiVersion: ${API_VERSION}\nkind: Lease\nmetadata:\n  name: l1\nspec:\n  project: web\n  ttl: ${ttl}\n`;

describe('write paths', () => {
  it('POST /apply refuses a disallowed image with 422, the rule and the position, and stores nothing', async () => {
    const response = await inject({
      method: 'POST',
      url: '/apply?source=web.yaml',
      headers: { 'content-type': 'application/yaml' },
      payload: project('evil:1'),
    });
    expect(response.statusCode).toBe(422);
    const body = response.json<{ message: string; issues: Array<{ line: number; path: string }> }>();
    expect(body.message).toBe(
      'web.yaml:6:10: spec.image: image "evil:1" is not allowed: it matches no pattern of the operator setting imageAllowlist [busybox, luma/**]',
    );
    expect(body.issues[0]).toMatchObject({ line: 6, path: 'spec.image' });
    expect(store.list('Project')).toEqual([]);
  });

  it('POST /apply/files refuses the whole batch when one lease is out of bounds', async () => {
    const response = await inject({
      method: 'POST',
      url: '/apply/files',
      payload: {
        files: [
          { path: 'web.yaml', content: project('busybox') },
          { path: 'lease.yaml', content: lease('3h') },
        ],
      },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json<{ message: string }>().message).toBe(
      'lease.yaml:7:8: spec.ttl: 3h is above the maximum of 120m (operator setting leases.maxTtl)',
    );
    expect(store.list('Project')).toEqual([]);
    expect(store.list('Lease')).toEqual([]);
  });

  it('PUT refuses an out-of-bounds lease and accepts one within bounds', async () => {
    const body = (ttl: string): object => ({
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'l1' },
      spec: { project: 'web', ttl },
    });
    const refused = await inject({ method: 'PUT', url: `${API_PREFIX}/leases/l1`, payload: body('1m') });
    expect(refused.statusCode).toBe(422);
    expect(refused.json<{ message: string }>().message).toContain(
      'spec.ttl: 1m is below the minimum of 5m (operator setting leases.minTtl)',
    );
    expect(store.get('Lease', 'l1')).toBeUndefined();

    const accepted = await inject({ method: 'PUT', url: `${API_PREFIX}/leases/l1`, payload: body('10m') });
    expect(accepted.statusCode).toBe(200);
    expect(store.get('Lease', 'l1')?.spec.ttl).toBe('10m');
  });
});

describe('GET /api/v1alpha1/usage', () => {
  it('summarises the ledger per lease, per project and in total', async () => {
    records.push(
      usageRecord({ lease: 'a', project: 'web', cost: 0.5 }),
      usageRecord({ lease: 'b', project: 'api', cost: 0.25 }),
    );
    const response = await inject({ method: 'GET', url: `${API_PREFIX}/usage` });
    expect(response.statusCode).toBe(200);
    const summary = response.json<UsageSummary>();
    expect(summary.leases).toEqual([
      usageRecord({ lease: 'a', project: 'web', cost: 0.5 }),
      usageRecord({ lease: 'b', project: 'api', cost: 0.25 }),
    ]);
    expect(summary.projects.map((row) => [row.project, row.leases, row.cost])).toEqual([
      ['api', 1, 0.25],
      ['web', 1, 0.5],
    ]);
    expect(summary.totals).toEqual([
      { currency: 'USD', leases: 2, runtimeSeconds: 600, vcpuSeconds: 150, gibSeconds: 150, cost: 0.75 },
    ]);
  });

  it('filters by ?project=', async () => {
    records.push(usageRecord({ lease: 'a', project: 'web' }), usageRecord({ lease: 'b', project: 'api' }));
    const summary = (await inject({ method: 'GET', url: `${API_PREFIX}/usage?project=api` })).json<UsageSummary>();
    expect(summary.leases.map((record) => record.lease)).toEqual(['b']);
    expect(summary.totals[0]?.leases).toBe(1);
    const none = (await inject({ method: 'GET', url: `${API_PREFIX}/usage?project=nothing` })).json<UsageSummary>();
    expect(none).toEqual({ leases: [], projects: [], totals: [] });
  });

  it('is in the OpenAPI document', async () => {
    const document = (await inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get?: { summary?: string } }>;
    }>();
    expect(document.paths[`${API_PREFIX}/usage`]?.get?.summary).toContain('per lease, per project and in total');
  });
});
