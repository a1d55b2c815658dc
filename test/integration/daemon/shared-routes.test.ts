import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeadership, type ControlPlaneLeadership } from '../../../src/daemon/leadership.js';
import { startSharedRoutes, type SharedRoutes } from '../../../src/daemon/shared-routes/shared-routes.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { FencedError } from '../../../src/store/postgres/leader-election.js';
import { migrate } from '../../../src/store/postgres/migrations.js';
import { silentLogger } from '../../../src/util/logger.js';
import { startPostgres, type PrivatePostgres } from '../../support/postgres.js';
import { until } from '../../support/until.js';

// Two controllers' proxies on one real database: what the leader deploys, the standby's
// proxy serves (real HTTP through it to a real backend); a request held by the standby's
// proxy wakes the service through the leader and is answered once the leader's new target
// reaches it; a removal follows; and once the leadership moved, the old leader's routes are
// refused by the fence and the table is left as the new leader had it. Traffic only the
// standby's proxy sees reaches the leader's view of the service (in flight, last activity,
// the revision's outcomes), and a controller whose reports stop stops counting.

let postgres: PrivatePostgres;
let url: string;
let backend: http.Server;
let backendAddress: string;
const cleanup: Array<() => Promise<void>> = [];

interface Node {
  leadership: ControlPlaneLeadership;
  proxy: ProxyServer;
  port: number;
  shared: SharedRoutes;
  woken: string[];
}

/** A controller's part here: its election, its own proxy listening, and the shared routes; `onWake` plays its controller. */
async function node(onWake: (node: Node, service: string) => void, database = url): Promise<Node> {
  const leadership = createLeadership(database, silentLogger(), () => undefined);
  await leadership.start(async () => undefined);
  const proxy = new ProxyServer();
  const { port } = await proxy.listen('127.0.0.1', 0);
  const self = { leadership, proxy, port, woken: [] } as unknown as Node;
  self.shared = await startSharedRoutes({
    url: database,
    proxy,
    id: leadership.id,
    leading: () => leadership.leading(),
    fence: () => leadership.fence(),
    wake: () => {
      throw new Error("no request is held by a leader's own proxy here");
    },
    wakeRelayed: (service) => {
      self.woken.push(service);
      onWake(self, service);
    },
    logger: silentLogger(),
  });
  proxy.setHooks({ wake: (service) => self.shared.wake(service) });
  cleanup.push(async () => {
    await self.shared.stop();
    await proxy.close();
    await leadership.stop();
  });
  return self;
}

function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.setTimeout(15_000, () => request.destroy(new Error('no answer within 15 s')));
  });
}

/** A backend that answers only once `release()` is called: a request stays in flight until then. */
async function heldBackend(): Promise<{ address: string; release(): void; close(): Promise<void> }> {
  const waiting: http.ServerResponse[] = [];
  const server = http.createServer((_request, response) => void waiting.push(response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: () => waiting.splice(0).forEach((response) => response.end('released')),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function sql(database: string, text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  await client.query(text, values);
  await client.end();
}

async function routeRow(service: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ route: unknown }>('SELECT route FROM luma_routes WHERE service = $1', [
    service,
  ]);
  await client.end();
  return rows[0]?.route;
}

beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await migrate(pool);
  await pool.end();
  backend = http.createServer((_request, response) => response.end('from the backend'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendAddress = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await new Promise((resolve) => backend?.close(resolve));
  await postgres?.remove();
});

describe('shared routes', () => {
  it("feeds a standby's proxy with the leader's routes, wakes through the leader, and fences an old leader", async () => {
    // The leader's controller answers a wake by deploying the backend as the service's target.
    const wakeWithBackend = (self: Node, service: string): void =>
      void self.shared.proxy.deploy({ service, hosts: [`${service}.test`], targets: [backendAddress] });
    const leader = await node(wakeWithBackend);
    await until(() => leader.leadership.leading(), 3_000);
    const standby = await node(wakeWithBackend);
    expect(standby.leadership.leading()).toBe(false);

    await leader.shared.proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [backendAddress] });
    await until(async () => (await standby.proxy.getService('app')) !== undefined, 3_000);
    expect(await get(standby.port, 'app.test')).toEqual({ status: 200, body: 'from the backend' });

    // Scaled to zero: the standby's proxy holds the request; the leader is asked and wakes it.
    await leader.shared.proxy.deploy({ service: 'cold', hosts: ['cold.test'], targets: [], startupTimeoutMs: 10_000 });
    await until(async () => (await standby.proxy.getService('cold')) !== undefined, 3_000);
    expect(await get(standby.port, 'cold.test')).toEqual({ status: 200, body: 'from the backend' });
    expect(leader.woken).toEqual(['cold']);
    expect(standby.woken).toEqual([]);

    await leader.shared.proxy.remove('app');
    await until(async () => (await standby.proxy.getService('app')) === undefined, 3_000);
    expect((await get(standby.port, 'app.test')).status).toBe(404);

    // The leadership moves; the old leader's next route is refused and the table keeps the new one's.
    await leader.leadership.stop();
    await until(() => standby.leadership.leading(), 3_000);
    await standby.shared.proxy.deploy({ service: 'cold', hosts: ['cold.test'], targets: [] });
    await expect(
      leader.shared.proxy.deploy({ service: 'cold', hosts: ['cold.test'], targets: [backendAddress] }),
    ).rejects.toBeInstanceOf(FencedError);
    expect(await routeRow('cold')).toEqual({ service: 'cold', hosts: ['cold.test'], targets: [] });
  });

  it("gives the leader the standby's proxy's activity and outcomes, and drops a silent controller's", async () => {
    const database = await postgres.createDatabase();
    const pool = new pg.Pool({ connectionString: database, max: 1 });
    await migrate(pool);
    await pool.end();
    const held = await heldBackend();
    cleanup.push(() => held.close());
    const leader = await node(() => undefined, database);
    await until(() => leader.leadership.leading(), 3_000);
    const standby = await node(() => undefined, database);
    await leader.shared.proxy.deploy({
      service: 'busy',
      hosts: ['busy.test'],
      targets: [held.address],
      revision: 'busy-1',
    });
    await until(async () => (await standby.proxy.getService('busy')) !== undefined, 3_000);

    // A request only the standby's proxy sees, held in flight by the backend.
    const answer = get(standby.port, 'busy.test');
    const merged = async () => (await leader.shared.proxy.getService('busy'))?.activity;
    await until(async () => (await merged())?.inFlight === 1, 5_000);
    expect((await merged())?.lastActivityAt).toBeGreaterThan(Date.now() - 10_000);
    expect((await leader.proxy.getService('busy'))?.activity).toEqual({ inFlight: 0, waiting: 0 });

    held.release();
    expect(await answer).toEqual({ status: 200, body: 'released' });
    await until(async () => (await leader.shared.proxy.revisionOutcomes())['busy-1']?.requests === 1, 5_000);
    expect((await merged())?.inFlight).toBe(0);
    expect(await leader.proxy.revisionOutcomes()).toEqual({});

    // Another controller that reports, then falls silent: counted while fresh, ignored once stale.
    await sql(database, "INSERT INTO luma_proxy_reporters (controller) VALUES ('ghost')");
    await sql(database, "INSERT INTO luma_proxy_activity VALUES ('ghost', 'busy', NULL, 2, 0)");
    await until(async () => (await merged())?.inFlight === 2, 5_000);
    await sql(
      database,
      "UPDATE luma_proxy_reporters SET seen_at = now() - interval '1 minute' WHERE controller = 'ghost'",
    );
    await until(async () => (await merged())?.inFlight === 0, 5_000);

    // A standby that stops withdraws its activity; its outcome counts stay (history).
    await standby.shared.stop();
    await until(async () => (await merged())?.lastActivityAt === undefined, 5_000);
    expect((await leader.shared.proxy.revisionOutcomes())['busy-1']?.requests).toBe(1);
  });
});
