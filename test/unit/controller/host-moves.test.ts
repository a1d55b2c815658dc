import { describe, expect, it } from 'vitest';
import { HostMovingProxy } from '../../../src/controller/host-moving-proxy.js';
import type { DeclaredHosts } from '../../../src/controller/host-moves.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';

// Names moving between services, as the controller's reconciles deploy them through
// HostMovingProxy onto a proxy that refuses a host another service holds (the fake judges
// hosts with the real route table). Each row runs its reconciles in every order, requeuing
// a refused one as the work queue would, and must converge to what is declared with no
// deploy refused. Where names are exchanged (swaps, rotations), there is also no moment
// when a name routes nowhere. A name given away one way may route nowhere between its old
// holder's reconcile and its new holder's (404, never the wrong service).

type Routes = Record<string, string[]>;

interface Row {
  name: string;
  /** What the proxy routes before the change. */
  before: Routes;
  /** What the store declares after it; a service left out is not the controller's (deployed by hand). */
  declared: Routes;
  /** Moves expected when the first service in the order deploys first (undefined: no move needed). */
  firstMoves?: Record<string, string[]>;
  /** Every service that gives a name away takes one in the same step: no name is ever unrouted. */
  exchange?: boolean;
}

const converging: Row[] = [
  {
    name: 'a swap of two projects',
    before: { a: ['a.test'], b: ['b.test'] },
    declared: { a: ['b.test'], b: ['a.test'] },
    firstMoves: { b: ['a.test'] },
    exchange: true,
  },
  {
    name: 'a rotation A→B→C→A',
    before: { a: ['a.test'], b: ['b.test'], c: ['c.test'] },
    declared: { a: ['b.test'], b: ['c.test'], c: ['a.test'] },
    firstMoves: { b: ['c.test'], c: ['a.test'] },
    exchange: true,
  },
  {
    name: 'moves among three: A gives x to B, B gives z to C',
    before: { a: ['x.test', 'y.test'], b: ['z.test'], c: ['w.test'] },
    declared: { a: ['y.test'], b: ['x.test'], c: ['z.test', 'w.test'] },
  },
  {
    name: 'a swap where one side has two names',
    before: { a: ['a1.test', 'a2.test'], b: ['b.test'] },
    declared: { a: ['b.test'], b: ['a1.test', 'a2.test'] },
    firstMoves: { b: ['a1.test', 'a2.test'] },
    exchange: true,
  },
  {
    name: 'a new project takes a name from one that let it go',
    before: { a: ['a.test', 'shared.test'] },
    declared: { a: ['a.test'], n: ['shared.test'] },
  },
  {
    name: 'a project takes a lease hostname whose project moved, and the lease follows its project',
    before: { p: ['p.test'], 'lease.l': ['l.p.test'] },
    declared: { p: ['q.test'], 'lease.l': ['l.q.test'], o: ['l.p.test'] },
  },
  {
    name: 'two swaps in one apply, among four projects',
    before: { a: ['a.test'], b: ['b.test'], c: ['c.test'], d: ['d.test'] },
    declared: { a: ['b.test'], b: ['a.test'], c: ['d.test'], d: ['c.test'] },
    exchange: true,
  },
];

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

function declaredBy(routes: Routes): DeclaredHosts {
  return (service) => routes[service];
}

async function routesOf(proxy: FakeProxy): Promise<Routes> {
  const services = await proxy.listServices();
  return Object.fromEntries(services.map((service) => [service.service, [...service.hosts].sort()]));
}

function routedHosts(routes: Routes): Set<string> {
  return new Set(Object.values(routes).flat());
}

function seeded(before: Routes): FakeProxy {
  const fake = new FakeProxy();
  Object.entries(before).forEach(([service, hosts], index) =>
    fake.seed({ service, hosts, targets: [`127.0.0.1:${9000 + index}`] }),
  );
  return fake;
}

/** Reconciles in `order`, a refused one requeued at the end, at most 4 deploys per service. */
async function reconcileAll(row: Row, order: string[]): Promise<{ fake: FakeProxy; refusals: number }> {
  const fake = seeded(row.before);
  const queue = [...order];
  const proxy = new HostMovingProxy(fake, declaredBy(row.declared), (service) => queue.push(service));
  const stillRouted = row.exchange ? routedHosts(row.before) : new Set<string>();
  let refusals = 0;
  for (let step = 0; step < order.length * 4 && queue.length > 0; step++) {
    const service = queue.shift() as string;
    const current = await fake.getService(service);
    await proxy
      .deploy({
        service,
        hosts: row.declared[service] ?? [],
        targets: current?.targets.map((target) => target.address) ?? [],
      })
      .catch(() => {
        refusals++;
        queue.push(service);
      });
    // In an exchange, a name that was routed always routes somewhere.
    for (const host of stillRouted)
      expect(routedHosts(await routesOf(fake)), `${host} after step ${step}`).toContain(host);
  }
  return { fake, refusals };
}

describe('names moving between services converge', () => {
  describe.each(converging)('$name', (row) => {
    it.each(permutations(Object.keys(row.declared)).map((order) => [order.join(' → '), order]))(
      'in the order %s',
      async (_label, order) => {
        const { fake, refusals } = await reconcileAll(row, order as string[]);
        const expected = Object.fromEntries(
          Object.entries(row.declared).map(([service, hosts]) => [service, [...hosts].sort()]),
        );
        expect(await routesOf(fake)).toEqual(expected);
        expect(refusals).toBe(0);
      },
    );

    it('moves only hosts: a moved service keeps its targets', async () => {
      const order = Object.keys(row.declared);
      const fake = seeded(row.before);
      const proxy = new HostMovingProxy(fake, declaredBy(row.declared));
      const first = order[0] as string;
      const before = await fake.listServices();
      await proxy.deploy({ service: first, hosts: row.declared[first] ?? [], targets: ['127.0.0.1:9999'] });
      const moves = fake.hostMoves.at(-1)?.moves ?? [];
      expect(Object.fromEntries(moves.map((move) => [move.service, move.hosts]))).toEqual(
        row.firstMoves ?? Object.fromEntries(moves.map((move) => [move.service, move.hosts])),
      );
      if (row.firstMoves) expect(moves.length).toBeGreaterThan(0);
      for (const move of moves) {
        const after = await fake.getService(move.service);
        expect(after?.targets).toEqual(before.find((service) => service.service === move.service)?.targets);
      }
    });
  });
});

describe('names still held stay refused', () => {
  it('refuses a host its holder still declares, and moves nothing', async () => {
    const fake = seeded({ a: ['a.test'], b: ['b.test'] });
    const proxy = new HostMovingProxy(fake, declaredBy({ a: ['b.test'], b: ['b.test'] }));
    await expect(proxy.deploy({ service: 'a', hosts: ['b.test'], targets: [] })).rejects.toMatchObject({
      code: 'HostConflict',
      owner: 'b',
    });
    expect(await routesOf(fake)).toEqual({ a: ['a.test'], b: ['b.test'] });
    expect(fake.hostMoves).toEqual([]);
  });

  it('refuses a host held by a service the controller does not own (deployed by hand)', async () => {
    const fake = seeded({ a: ['a.test'], manual: ['b.test'] });
    const proxy = new HostMovingProxy(fake, declaredBy({ a: ['b.test'] }));
    await expect(proxy.deploy({ service: 'a', hosts: ['b.test'], targets: [] })).rejects.toMatchObject({
      code: 'HostConflict',
      owner: 'manual',
    });
    expect(await routesOf(fake)).toEqual({ a: ['a.test'], manual: ['b.test'] });
  });

  it('moves a holder that let go, keeping back the names a third service still holds', async () => {
    const fake = seeded({ a: ['a.test'], b: ['b.test'], c: ['c.test'] });
    // b now declares c.test too, but c still does: b may take a.test, not c.test.
    const proxy = new HostMovingProxy(fake, declaredBy({ a: ['b.test'], b: ['a.test', 'c.test'], c: ['c.test'] }));
    await proxy.deploy({ service: 'a', hosts: ['b.test'], targets: [] });
    expect(await routesOf(fake)).toEqual({ a: ['b.test'], b: ['a.test'], c: ['c.test'] });
  });

  it('a proxy that fails deploys fails the moving deploy too, and moves nothing', async () => {
    const fake = seeded({ a: ['a.test'], b: ['b.test'] });
    const proxy = new HostMovingProxy(fake, declaredBy({ a: ['b.test'], b: ['a.test'] }));
    fake.failOn('deploy', new Error('proxy socket closed'));
    await expect(
      proxy.deployMovingHosts({ service: 'a', hosts: ['b.test'], targets: [] }, [{ service: 'b', hosts: ['a.test'] }]),
    ).rejects.toThrow('proxy socket closed');
    expect(await routesOf(fake)).toEqual({ a: ['a.test'], b: ['b.test'] });
    expect(fake.hostMoves).toEqual([]);
  });
});
