import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageSummary } from '../../src/usage/summary.js';
import { removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import { projectManifest, runCli, startLuma, tempDir, type LumaProcess } from '../support/luma.js';
import { usageRecord } from '../support/usage-records.js';

// `luma get usage` reads the ledger a real `luma up` opened (pre-written here, with the
// torn tail a crash leaves), and the operator's rules from --config refuse bad leases and
// images at apply time, naming the limit or rule, storing nothing.

describe('usage ledger and operator rules', () => {
  const instance = testInstance('usage');
  let luma: LumaProcess;
  let dir: string;
  let stateDir: string;
  let config: string;
  let manifests: string;

  const records = [
    usageRecord({
      lease: 'web-1',
      project: 'web',
      runtimeSeconds: 300,
      cpuMillis: 250,
      memoryBytes: 256 * 2 ** 20,
      cost: 0.001988,
    }),
    usageRecord({
      lease: 'web-2',
      project: 'web',
      startedAt: '2025-01-01T11:00:00.000Z',
      endedAt: '2025-01-01T12:00:00.000Z',
      runtimeSeconds: 3600,
      cpuMillis: 1000,
      memoryBytes: 2 ** 30,
      cost: 0.0954,
      reason: 'Released',
      fromPool: true,
    }),
    usageRecord({
      lease: 'api-1',
      project: 'api',
      startedAt: '2025-01-01T10:30:00.000Z',
      endedAt: '2025-01-01T10:40:00.000Z',
      runtimeSeconds: 600,
      cpuMillis: 500,
      memoryBytes: 512 * 2 ** 20,
      cost: 0.00795,
    }),
  ];

  const cli = (args: string[]): ReturnType<typeof runCli> => runCli(args, { api: luma.api });

  beforeAll(async () => {
    dir = await tempDir('usage');
    stateDir = path.join(dir, 'state');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    await mkdir(path.join(stateDir, 'usage'), { recursive: true });
    const torn = JSON.stringify(usageRecord({ lease: 'torn' })).slice(0, 40);
    await writeFile(
      path.join(stateDir, 'usage', 'ledger.jsonl'),
      records.map((record) => `${JSON.stringify(record)}\n`).join('') + torn,
    );
    config = path.join(dir, 'luma-config.yaml');
    await writeFile(
      config,
      [
        'leases:',
        '  maxTtl: 60m',
        '  maxCpu: 1',
        'imageAllowlist:',
        `  - ${TEST_IMAGE.split(':')[0]}`,
        '  - luma/**',
        '',
      ].join('\n'),
    );
    luma = await startLuma({ stateDir, manifests, instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  it('cut off the torn last record at start, with a warning naming the line', async () => {
    expect(luma.output()).toMatch(/ledger\.jsonl:4: ignored a torn last record/);
    const lines = (await readFile(path.join(stateDir, 'usage', 'ledger.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
  });

  it('luma get usage prints every lease, each project and the total', async () => {
    const result = await cli(['get', 'usage']);
    expect(result.code).toBe(0);
    const [leases = '', projects = ''] = result.stdout.split('\n\n');
    const leaseRows = leases
      .trim()
      .split('\n')
      .map((row) => row.split(/\s+/));
    expect(leaseRows.map((row) => row[0])).toEqual(['LEASE', 'web-1', 'api-1', 'web-2']);
    expect(leaseRows[3]).toEqual([
      'web-2',
      'web',
      '2025-01-01T11:00:00Z',
      '1h',
      '1',
      '1Gi',
      'Released',
      '0.0954',
      'USD',
    ]);
    const projectRows = projects
      .trim()
      .split('\n')
      .map((row) => row.split(/\s+/));
    expect(projectRows).toEqual([
      ['PROJECT', 'LEASES', 'RUNTIME', 'VCPU-SECONDS', 'GIB-SECONDS', 'COST'],
      ['api', '1', '10m', '300', '300', '0.00795', 'USD'],
      ['web', '2', '1h5m', '3675', '3675', '0.097388', 'USD'],
      ['TOTAL', '3', '1h15m', '3975', '3975', '0.105338', 'USD'],
    ]);
  });

  it('luma get usage -o json is the summary, and --project narrows it', async () => {
    const all = JSON.parse((await cli(['get', 'usage', '-o', 'json'])).stdout) as UsageSummary;
    expect(all.leases).toEqual([records[0], records[2], records[1]]);
    expect(all.totals).toEqual([
      { currency: 'USD', leases: 3, runtimeSeconds: 4500, vcpuSeconds: 3975, gibSeconds: 3975, cost: 0.105338 },
    ]);

    const api = JSON.parse((await cli(['get', 'usage', '--project', 'api', '-o', 'json'])).stdout) as UsageSummary;
    expect(api.leases.map((record) => record.lease)).toEqual(['api-1']);
    expect(api.totals[0]?.cost).toBe(0.00795);

    const none = await cli(['get', 'usage', '--project', 'nobody']);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('No usage recorded for project "nobody".');
  });

  it('refuses a project whose image is not allowed, naming the rule and the position, and stores nothing', async () => {
    const file = path.join(dir, 'evil.yaml');
    await writeFile(file, projectManifest('evil', { image: 'evil/miner:1', hostnames: ['evil.localhost'] }));
    const result = await cli(['apply', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `evil.yaml:6:10: spec.image: image "evil/miner:1" is not allowed: it matches no pattern of the operator setting imageAllowlist [luma-test/app, luma/**]`,
    );
    const get = await cli(['get', 'project', 'evil']);
    expect(get.code).toBe(1);
    expect(get.stderr).toContain('Project "evil" not found');
  });

  it('refuses an out-of-bounds lease, naming the limit, and stores nothing of its apply', async () => {
    const file = path.join(dir, 'lease.yaml');
    const lease = [
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata:',
      '  name: long',
      'spec:',
      '  project: web',
      '  ttl: 3h',
      '  resources:',
      '    cpu: "2"',
      '',
    ].join('\n');
    await writeFile(
      file,
      `${projectManifest('web', { image: TEST_IMAGE, hostnames: ['web.localhost'] })}---\n${lease}`,
    );
    const result = await cli(['apply', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('spec.ttl: 3h is above the maximum of 60m (operator setting leases.maxTtl)');
    expect(result.stderr).toContain('spec.resources.cpu: 2 is above the maximum of 1 (operator setting leases.maxCpu)');
    expect(result.stderr).toMatch(/lease\.yaml:\d+:8: spec\.ttl/);
    expect((await cli(['get', 'lease', 'long'])).code).toBe(1);
    expect((await cli(['get', 'project', 'web'])).code).toBe(1);

    // Within bounds, the same apply goes through.
    await writeFile(
      file,
      `${projectManifest('web', { image: TEST_IMAGE, hostnames: ['web.localhost'] })}---\n${lease.replace('3h', '30m').replace('"2"', '500m')}`,
    );
    const accepted = await cli(['apply', '-f', file]);
    expect(accepted.stderr).toBe('');
    expect(accepted.stdout).toBe('project/web created\nlease/long created\n');
  });

  it('keeps the ledger across a restart', async () => {
    const before = (await cli(['get', 'usage', '-o', 'json'])).stdout;
    await luma.stop();
    luma = await startLuma({ stateDir, manifests, instance, config });
    expect(luma.output()).not.toContain('torn');
    expect((await cli(['get', 'usage', '-o', 'json'])).stdout).toBe(before);
  });
});
