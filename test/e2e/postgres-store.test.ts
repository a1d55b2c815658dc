import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../../src/api/api-options.js';
import type { ProjectObject } from '../../src/model/types.js';
import { containersOf, runningContainersOf, TEST_IMAGE } from '../support/docker.js';
import { apiFetch, eventually, projectManifest, request, runCli, type LumaProcess } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// `luma up --store postgres://…` (issue 22): a real project through scale to zero with
// its objects in a private PostgreSQL instead of the state directory, and a second Luma
// with an empty state directory that finds them there.

describe('luma up --store postgres://', () => {
  const fixture = lumaUpFor('pgs', { resyncInterval: '1s', stopTimeout: '2s' }, { postgres: true, startLater: true });
  const { instance } = fixture;
  let luma: LumaProcess | undefined;

  async function healthz(): Promise<{ status: number; body: HealthReport }> {
    const answer = await apiFetch(luma!.api, '/healthz');
    return { status: answer.status, body: (await answer.json()) as HealthReport };
  }

  async function phase(name: string): Promise<string | undefined> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: luma!.api });
    return result.code === 0 ? (JSON.parse(result.stdout) as ProjectObject).status?.phase : undefined;
  }

  it('runs a project through scale to zero with its objects in PostgreSQL', async () => {
    luma = await fixture.start('state-a');
    const file = path.join(fixture.dir, 'cold.yaml');
    await writeFile(
      file,
      projectManifest('cold', { image: TEST_IMAGE, hostnames: ['cold.localhost'], idleTimeout: '1s' }),
    );
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(async () => (await phase('cold')) === 'Idle', 10_000, 'phase Idle after apply');
    expect(await containersOf(instance, 'cold')).toHaveLength(0);

    const first = await request(luma.proxyPort, 'cold.localhost');
    expect(first.status).toBe(200);
    expect(await runningContainersOf(instance, 'cold')).toHaveLength(1);
    await eventually(async () => (await runningContainersOf(instance, 'cold')).length === 0, 10_000, 'idle stop');
    await eventually(async () => (await phase('cold')) === 'Idle', 10_000, 'phase Idle after the idle stop');
    expect((await request(luma.proxyPort, 'cold.localhost')).status).toBe(200);

    // The objects are rows of the database, not files of the state directory.
    const client = new pg.Client({ connectionString: fixture.storeUrl });
    await client.connect();
    const { rows } = await client.query<{ kind: string; name: string }>('SELECT kind, name FROM luma_objects');
    await client.end();
    expect(rows).toContainEqual({ kind: 'Project', name: 'cold' });
    expect(await readdir(path.join(fixture.dir, 'state-a'))).not.toContain('objects');
  });

  it('a Luma started on another state directory finds the objects in the database', async () => {
    await luma?.stop();
    luma = await fixture.start('state-b');
    await eventually(async () => (await phase('cold')) !== undefined, 10_000, 'project cold read from the database');
    expect((await request(luma.proxyPort, 'cold.localhost')).status).toBe(200);
    expect(await containersOf(instance, 'cold')).toHaveLength(1);
  });

  it('with PostgreSQL stopped: /healthz, a condition and an event say so, running apps keep answering, all converges after', async () => {
    const file = path.join(fixture.dir, 'warm.yaml');
    await writeFile(
      file,
      projectManifest('warm', { image: TEST_IMAGE, hostnames: ['warm.localhost'], minInstances: 1 }),
    );
    expect((await runCli(['apply', '-f', file], { api: luma!.api })).code).toBe(0);
    await eventually(async () => (await phase('warm')) === 'Running', 20_000, 'warm Running');

    await fixture.postgres.stop();
    await eventually(
      async () => {
        const health = await healthz();
        return health.status === 503 && health.body.database?.reachable === false;
      },
      15_000,
      '/healthz degraded by the database',
    );
    const lost = (await healthz()).body.conditions?.find((condition) => condition.type === 'DatabaseReachable');
    expect(lost).toMatchObject({ status: 'False', reason: 'Unreachable' });
    // The proxy keeps serving a running app, again and again, while the database is away.
    for (let i = 0; i < 5; i++) expect((await request(luma!.proxyPort, 'warm.localhost')).status).toBe(200);
    const down = await runCli(['events'], { api: luma!.api });
    expect(down.stdout).toContain('DatabaseUnreachable');

    await fixture.postgres.start();
    await eventually(async () => (await healthz()).status === 200, 15_000, '/healthz ok again');
    const back = (await healthz()).body.conditions?.find((condition) => condition.type === 'DatabaseReachable');
    expect(back).toMatchObject({ status: 'True', reason: 'Connected' });
    expect(Date.parse(back?.lastTransitionTime ?? '')).toBeGreaterThan(Date.parse(lost?.lastTransitionTime ?? ''));
    expect((await request(luma!.proxyPort, 'warm.localhost')).status).toBe(200);
    const after = path.join(fixture.dir, 'after.yaml');
    await writeFile(after, projectManifest('after', { image: TEST_IMAGE, hostnames: ['after.localhost'] }));
    expect((await runCli(['apply', '-f', after], { api: luma!.api })).code).toBe(0);
    await eventually(
      async () => (await phase('after')) === 'Idle',
      15_000,
      'a project applied after the outage converges',
    );
    expect((await runCli(['events'], { api: luma!.api })).stdout).toContain('DatabaseReconnected');
    // The outage's events reached the database: a Luma started on it now shows them too.
    const client = new pg.Client({ connectionString: fixture.storeUrl });
    await client.connect();
    const { rows } = await client.query<{ reason: string }>('SELECT reason FROM luma_events ORDER BY seq');
    await client.end();
    expect(rows.map((row) => row.reason)).toEqual(
      expect.arrayContaining(['DatabaseUnreachable', 'DatabaseReconnected']),
    );
  });
});
