import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/api/wire.js';
import type { ProjectObject } from '../../src/model/types.js';
import { containersOf, docker, runningContainersOf, TEST_IMAGE } from '../support/docker.js';
import { apiFetch, eventually, projectManifest, request, runCli, type LumaProcess } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Controllers fail over (issue 22): several `luma up` on one PostgreSQL database, each with
// its own state directory and ports. One leads and reconciles; the others answer the API.
// A SIGKILLed leader is replaced within the 5 s; a paused one, once resumed after
// it lost, writes nothing and exits.

/** The bound for another controller to lead, and what a shared, loaded machine adds. */
const TAKEOVER_BOUND_MS = 5_000;
const LOAD_MARGIN_MS = 2_000;

interface Health {
  leader?: boolean;
  election?: { id: string; current?: { id: string; epoch: number } };
}

async function health(luma: LumaProcess): Promise<Health> {
  return (await (await apiFetch(luma.api, '/healthz')).json()) as Health;
}

function exitOf(luma: LumaProcess): Promise<number | null> {
  const { child } = luma;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('controllers sharing a PostgreSQL store fail over', () => {
  const fixture = lumaUpFor(
    'fo',
    { resyncInterval: '1s', stopTimeout: '2s' },
    { postgres: true, startLater: true, env: { LUMA_LOG_LEVEL: 'info' } },
  );
  const { instance, start } = fixture;

  async function apply(luma: LumaProcess, name: string, idleTimeout?: string): Promise<void> {
    const file = path.join(fixture.dir, `${name}.yaml`);
    await writeFile(file, projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], idleTimeout }));
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
  }

  async function phase(luma: LumaProcess, name: string): Promise<string | undefined> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: luma.api });
    return result.code === 0 ? (JSON.parse(result.stdout) as ProjectObject).status?.phase : undefined;
  }

  /** The store's version counter: it moves with every write any process makes. */
  async function storeVersion(): Promise<number> {
    const client = new pg.Client({ connectionString: fixture.storeUrl });
    await client.connect();
    try {
      return Number(
        (await client.query<{ version: string }>('SELECT version FROM luma_store_version')).rows[0]?.version,
      );
    } finally {
      await client.end();
    }
  }

  /** Waits for `luma` to lead and returns how long that took from `since`. */
  async function leadsWithin(luma: LumaProcess, since: number, what: string): Promise<number> {
    await eventually(async () => (await health(luma)).leader === true, 15_000, what);
    return performance.now() - since;
  }

  let a: LumaProcess;
  let b: LumaProcess;

  it('one leads and reconciles what is applied through another', async () => {
    a = await start('state-a');
    await leadsWithin(a, performance.now(), 'the first controller leads');
    b = await start('state-b');
    const standby = await health(b);
    expect(standby.leader).toBe(false);
    expect(standby.election?.current?.id).toBe((await health(a)).election?.id);

    await apply(b, 'first');
    await eventually(async () => (await phase(b, 'first')) === 'Idle', 15_000, 'first reconciled by the leader');
    // The standby's proxy follows the leader's routes: its request, held for the idle
    // project, wakes it through the leader; the leader's own proxy serves it too.
    expect((await request(b.proxyPort, 'first.localhost')).status).toBe(200);
    expect((await request(a.proxyPort, 'first.localhost')).status).toBe(200);
    expect(await containersOf(instance, 'first')).toHaveLength(1);
    // The watched directory is the leader's: a standby refuses a sync pass.
    const refused = await apiFetch(b.api, `${API_PREFIX}/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toBe('Standby');
  });

  it("keeps a project up while its traffic comes only through the standby's proxy", async () => {
    await apply(b, 'busy', '5s');
    expect((await request(b.proxyPort, 'busy.localhost')).status).toBe(200);
    const [running] = await runningContainersOf(instance, 'busy');
    const startedAt = (await docker.getContainer(running?.Id ?? '').inspect()).State.StartedAt;
    // Two and a half idle timeouts of steady requests, none through the leader's proxy.
    const until = performance.now() + 12_500;
    while (performance.now() < until) {
      expect((await request(b.proxyPort, 'busy.localhost')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const after = await runningContainersOf(instance, 'busy');
    expect(after.map((container) => container.Id)).toEqual([running?.Id]);
    expect((await docker.getContainer(running?.Id ?? '').inspect()).State.StartedAt).toBe(startedAt);
    // Once the requests stop, the leader idles it as usual.
    await eventually(async () => (await runningContainersOf(instance, 'busy')).length === 0, 20_000, 'busy idled');
  });

  it('a SIGKILLed leader is replaced within 5 s, and what is applied after converges once', async () => {
    const epoch = (await health(b)).election?.current?.epoch ?? 0;
    const killedAt = performance.now();
    await a.kill();
    const takeoverMs = await leadsWithin(b, killedAt, 'the standby leads after the SIGKILL');
    console.log(`controller takeover after SIGKILL: ${Math.round(takeoverMs)} ms (bound ${TAKEOVER_BOUND_MS} ms)`);
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS + LOAD_MARGIN_MS);
    expect((await health(b)).election?.current?.epoch).toBeGreaterThan(epoch);

    await apply(b, 'second');
    await eventually(async () => (await phase(b, 'second')) === 'Idle', 15_000, 'second reconciled by the new leader');
    expect((await request(b.proxyPort, 'second.localhost')).status).toBe(200);
    expect((await request(b.proxyPort, 'first.localhost')).status).toBe(200);
    // The new leader adopted the old one's container: one per project, none duplicated.
    expect(await containersOf(instance, 'first')).toHaveLength(1);
    expect(await containersOf(instance, 'second')).toHaveLength(1);
  });

  it('a leader paused until it lost writes nothing when resumed, and exits', async () => {
    const c = await start('state-c');
    expect((await health(c)).leader).toBe(false);
    b.child.kill('SIGSTOP');
    await leadsWithin(c, performance.now(), 'the standby leads while the leader is paused');
    // The new leader settles (it resyncs every second), then the old one resumes.
    let settled = await storeVersion();
    await eventually(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const now = await storeVersion();
        const quiet = now === settled;
        settled = now;
        return quiet;
      },
      30_000,
      'the store quiet under the new leader',
    );
    const exited = exitOf(b);
    b.child.kill('SIGCONT');
    expect(await exited).toBe(3);
    expect(b.output()).toContain('lost the leadership');
    expect(await storeVersion()).toBe(settled);
    expect(await containersOf(instance, 'first')).toHaveLength(1);
    expect(await containersOf(instance, 'second')).toHaveLength(1);
    expect((await request(c.proxyPort, 'second.localhost')).status).toBe(200);
  });
});
