import { describe, expect, it } from 'vitest';
import { HostConflictError, UnknownServiceError, type DeployRequest } from '../../../src/proxy/management.js';
import {
  DEFAULT_MAX_QUEUED,
  DEFAULT_RESPONSE_TIMEOUT_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  normalizeHost,
  RouteTable,
  Service,
  Target,
} from '../../../src/proxy/route-table.js';

function deploy(
  service: string,
  hosts: string[],
  targets: string[] = [],
  extra: Partial<DeployRequest> = {},
): DeployRequest {
  return { service, hosts, targets, ...extra };
}

/** What a request with this Host header would be routed to. */
function routeOf(table: RouteTable, hostHeader: string): string | undefined {
  const host = normalizeHost(hostHeader);
  return host === undefined ? undefined : table.lookupHost(host)?.name;
}

function snapshot(table: RouteTable): unknown {
  return table.all().map((service) => ({ ...service.info(), hosts: [...service.hosts] }));
}

describe('normalizeHost', () => {
  it.each([
    ['app.example.com', 'app.example.com'],
    ['App.Example.COM', 'app.example.com'],
    ['app.example.com:8080', 'app.example.com'],
    ['APP.example.com:443', 'app.example.com'],
    ['app.example.com.', 'app.example.com'],
    ['app.example.com.:8080', 'app.example.com'],
    ['  app.example.com  ', 'app.example.com'],
    ['localhost', 'localhost'],
    ['127.0.0.1:8080', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['[::1]:8080', '[::1]'],
    ['[FE80::1]:80', '[fe80::1]'],
  ])('%j → %j', (header, expected) => {
    expect(normalizeHost(header)).toBe(expected);
  });

  it.each([[undefined], [''], [':8080'], ['.'], ['   ']])('%j has no host', (header) => {
    expect(normalizeHost(header)).toBeUndefined();
  });
});

describe('Target.parse', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['localhost:1', 'localhost', 1],
    ['backend.internal:65535', 'backend.internal', 65535],
    ['[::1]:9000', '::1', 9000],
  ])('%s → host %s port %d', (address, host, port) => {
    const target = Target.parse(address);
    expect(target).toMatchObject({ address, host, port, inFlight: 0 });
  });

  it.each(['127.0.0.1', '127.0.0.1:', ':8080', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', '', 'host:123456'])(
    'refuses %j',
    (address) => {
      expect(() => Target.parse(address)).toThrow(/is not a host:port address/);
    },
  );
});

describe('RouteTable.apply', () => {
  it('routes every host of a service, whatever the case, port or trailing dot of the request', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.example.com', 'www.example.com'], ['127.0.0.1:9001']));
    expect(routeOf(table, 'web.example.com')).toBe('web');
    expect(routeOf(table, 'WWW.Example.com:8080')).toBe('web');
    expect(routeOf(table, 'web.example.com.')).toBe('web');
    expect(routeOf(table, 'other.example.com')).toBeUndefined();
  });

  it('lower-cases the hosts it is given and drops duplicates', () => {
    const table = new RouteTable();
    const { service } = table.apply(deploy('web', ['Web.Example.com', 'web.example.com']));
    expect(service.hosts).toEqual(['web.example.com']);
    expect(routeOf(table, 'web.example.com')).toBe('web');
  });

  it('routes IPv6 literal hosts', () => {
    const table = new RouteTable();
    table.apply(deploy('v6', ['[::1]']));
    expect(routeOf(table, '[::1]:8080')).toBe('v6');
  });

  // BUG (src/proxy/route-table.ts:125, and :113 in check()): deploy hosts are only lower-cased, while request
  // hosts go through normalizeHost (port and trailing dot removed). A host deployed as
  // "app.example.com." (the CLI's `deploy --host` takes anything) is stored under a key
  // no request can ever produce, and does not conflict with "app.example.com".
  // Fix: normalise deploy hosts with normalizeHost() (refusing those that normalise to
  // nothing) instead of toLowerCase().
  it('normalises deployed hosts the way request hosts are normalised (trailing dot)', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['app.example.com.']));
    expect(routeOf(table, 'app.example.com')).toBe('web');
  });

  it('moves a service to its new hosts and frees the old ones', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['old.example.com']));
    table.apply(deploy('web', ['new.example.com']));
    expect(routeOf(table, 'old.example.com')).toBeUndefined();
    expect(routeOf(table, 'new.example.com')).toBe('web');
    // The freed host can go to another service.
    table.apply(deploy('api', ['old.example.com']));
    expect(routeOf(table, 'old.example.com')).toBe('api');
  });

  it('refuses a host that another service owns and changes nothing (new service)', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    const before = snapshot(table);
    let error: unknown;
    try {
      table.apply(deploy('api', ['api.example.com', 'WEB.example.com'], ['127.0.0.1:9002']));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HostConflictError);
    expect(error).toMatchObject({ code: 'HostConflict', owner: 'web' });
    expect((error as HostConflictError).host.toLowerCase()).toBe('web.example.com');
    expect((error as Error).message).toMatch(/"web\.example\.com" is already routed to service "web"/i);
    expect(table.get('api')).toBeUndefined();
    expect(routeOf(table, 'api.example.com')).toBeUndefined();
    expect(routeOf(table, 'web.example.com')).toBe('web');
    expect(snapshot(table)).toEqual(before);
  });

  it('refuses a host conflict on an update and leaves the service as it was', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    table.apply(deploy('api', ['api.example.com'], ['127.0.0.1:9002'], { startupTimeoutMs: 1234 }));
    const before = snapshot(table);
    expect(() => table.apply(deploy('api', ['web.example.com'], ['127.0.0.1:9003']))).toThrow(HostConflictError);
    expect(snapshot(table)).toEqual(before);
    expect(routeOf(table, 'api.example.com')).toBe('api');
    expect(table.get('api')?.targets.map((target) => target.address)).toEqual(['127.0.0.1:9002']);
  });

  it('refuses a bad target address and changes nothing', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    const before = snapshot(table);
    expect(() => table.apply(deploy('web', ['moved.example.com'], ['127.0.0.1:9002', 'not-an-address']))).toThrow(
      /not-an-address/,
    );
    expect(snapshot(table)).toEqual(before);
    expect(routeOf(table, 'web.example.com')).toBe('web');
    expect(routeOf(table, 'moved.example.com')).toBeUndefined();

    expect(() => table.apply(deploy('fresh', ['fresh.example.com'], ['127.0.0.1:0']))).toThrow();
    expect(table.get('fresh')).toBeUndefined();
    expect(routeOf(table, 'fresh.example.com')).toBeUndefined();
  });

  it('returns the targets a deploy removed and keeps the live objects of those it kept', () => {
    const table = new RouteTable();
    const first = table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001', '127.0.0.1:9002']));
    expect(first.removed).toEqual([]);
    const [a, b] = first.service.targets;
    b!.inFlight = 3;

    const second = table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9002', '127.0.0.1:9003']));
    expect(second.removed).toEqual([a]);
    expect(second.service.targets[0]).toBe(b);
    expect(second.service.targets[0]?.inFlight).toBe(3);
    expect(second.service.targets.map((target) => target.address)).toEqual(['127.0.0.1:9002', '127.0.0.1:9003']);

    const third = table.apply(deploy('web', ['web.example.com'], []));
    expect(third.removed.map((target) => target.address).sort()).toEqual(['127.0.0.1:9002', '127.0.0.1:9003']);
    expect(third.service.targets).toEqual([]);
  });

  it('check() throws what apply() would, changes nothing, and lists the targets that would be new', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    const before = snapshot(table);
    expect(table.check(deploy('web', ['web.example.com'], ['127.0.0.1:9001', '127.0.0.1:9002']))).toEqual([
      '127.0.0.1:9002',
    ]);
    expect(table.check(deploy('api', ['api.example.com'], ['127.0.0.1:9003']))).toEqual(['127.0.0.1:9003']);
    expect(() => table.check(deploy('api', ['web.example.com']))).toThrow(HostConflictError);
    expect(() => table.check(deploy('web', ['web.example.com'], ['bad']))).toThrow(/not a host:port/);
    expect(snapshot(table)).toEqual(before);
  });

  it('sets the per-service options from each deploy, back to their defaults when left out', () => {
    const table = new RouteTable();
    const { service } = table.apply(
      deploy('web', ['web.example.com'], [], {
        responseTimeoutMs: 900,
        targetConcurrency: 4,
        forwardHeaders: true,
        tls: true,
        sslRedirect: true,
      }),
    );
    expect(service.info()).toMatchObject({
      responseTimeoutMs: 900,
      targetConcurrency: 4,
      forwardHeaders: true,
      tls: true,
      sslRedirect: true,
    });
    table.apply(deploy('web', ['web.example.com'], []));
    const info = service.info();
    expect(info).toMatchObject({
      responseTimeoutMs: DEFAULT_RESPONSE_TIMEOUT_MS,
      forwardHeaders: false,
      tls: false,
      sslRedirect: false,
    });
    expect(info.targetConcurrency).toBeUndefined();
  });

  it('sets the startup timeout and unavailable reason from each deploy', () => {
    const table = new RouteTable();
    const { service } = table.apply(
      deploy('web', ['web.example.com'], [], { startupTimeoutMs: 250, unavailableReason: 'image missing' }),
    );
    expect(service.startupTimeoutMs).toBe(250);
    expect(service.unavailableReason).toBe('image missing');
    table.apply(deploy('web', ['web.example.com'], []));
    expect(service.startupTimeoutMs).toBe(DEFAULT_STARTUP_TIMEOUT_MS);
    expect(service.unavailableReason).toBeUndefined();
  });

  it('tells listeners of a service that it changed', () => {
    const table = new RouteTable();
    const { service } = table.apply(deploy('web', ['web.example.com']));
    let changes = 0;
    service.changes.on('changed', () => changes++);
    table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    expect(changes).toBe(1);
  });
});

describe('RouteTable.apply with host moves', () => {
  it("swaps two services' hosts in one step and keeps the moved service's targets and settings", () => {
    const table = new RouteTable();
    table.apply(deploy('a', ['a.test'], ['127.0.0.1:9001']));
    table.apply(deploy('b', ['b.test'], ['127.0.0.1:9002'], { startupTimeoutMs: 1234 }));
    table.apply(deploy('a', ['b.test'], ['127.0.0.1:9001']), [{ service: 'b', hosts: ['a.test'] }]);
    expect(routeOf(table, 'a.test')).toBe('b');
    expect(routeOf(table, 'b.test')).toBe('a');
    expect(table.get('b')?.targets.map((target) => target.address)).toEqual(['127.0.0.1:9002']);
    expect(table.get('b')?.startupTimeoutMs).toBe(1234);
  });

  it("rotates three services' hosts in one step", () => {
    const table = new RouteTable();
    for (const name of ['a', 'b', 'c']) table.apply(deploy(name, [`${name}.test`]));
    table.apply(deploy('a', ['b.test']), [
      { service: 'b', hosts: ['c.test'] },
      { service: 'c', hosts: ['a.test'] },
    ]);
    expect(['a.test', 'b.test', 'c.test'].map((host) => routeOf(table, host))).toEqual(['c', 'a', 'b']);
  });

  it('leaves a service that gave all its hosts away reachable by none', () => {
    const table = new RouteTable();
    table.apply(deploy('a', ['a.test']));
    table.apply(deploy('b', ['a.test']), [{ service: 'a', hosts: [] }]);
    expect(table.get('a')?.hosts).toEqual([]);
    expect(routeOf(table, 'a.test')).toBe('b');
  });

  it('still refuses a host held by a service outside the moves, and changes nothing', () => {
    const table = new RouteTable();
    for (const name of ['a', 'b', 'c']) table.apply(deploy(name, [`${name}.test`]));
    const before = snapshot(table);
    expect(() => table.apply(deploy('a', ['b.test']), [{ service: 'b', hosts: ['c.test'] }])).toThrow(
      /"c\.test" is already routed to service "c"/,
    );
    expect(snapshot(table)).toEqual(before);
  });

  it('refuses a host claimed twice in one change, a service named twice, and an unknown moved service', () => {
    const table = new RouteTable();
    table.apply(deploy('a', ['a.test']));
    table.apply(deploy('b', ['b.test']));
    const before = snapshot(table);
    expect(() => table.apply(deploy('a', ['b.test']), [{ service: 'b', hosts: ['B.test'] }])).toThrow(
      HostConflictError,
    );
    expect(() => table.apply(deploy('a', ['b.test']), [{ service: 'a', hosts: [] }])).toThrow(/appears twice/);
    expect(() => table.apply(deploy('a', ['b.test']), [{ service: 'ghost', hosts: [] }])).toThrow(UnknownServiceError);
    expect(snapshot(table)).toEqual(before);
  });
});

describe('RouteTable.remove', () => {
  it('removes the service, frees its hosts and tells its listeners', () => {
    const table = new RouteTable();
    const { service } = table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001']));
    let removedEvents = 0;
    service.changes.on('removed', () => removedEvents++);
    expect(table.remove('web')).toBe(service);
    expect(removedEvents).toBe(1);
    expect(table.get('web')).toBeUndefined();
    expect(routeOf(table, 'web.example.com')).toBeUndefined();
    expect(table.all()).toEqual([]);
    expect(table.remove('web')).toBeUndefined();
    table.apply(deploy('api', ['web.example.com']));
    expect(routeOf(table, 'web.example.com')).toBe('api');
  });
});

describe('Service.pickTarget', () => {
  function serviceWith(count: number): Service {
    const service = new Service('web');
    service.targets = Array.from({ length: count }, (_, index) => Target.parse(`127.0.0.1:${9001 + index}`));
    return service;
  }

  it('has nothing to pick without targets', () => {
    expect(new Service('web').pickTarget()).toBeUndefined();
  });

  it('picks the target with the fewest requests in flight', () => {
    const service = serviceWith(3);
    const [a, b, c] = service.targets;
    a!.inFlight = 2;
    b!.inFlight = 0;
    c!.inFlight = 1;
    for (let i = 0; i < 5; i++) expect(service.pickTarget()).toBe(b);
    b!.inFlight = 5;
    expect(service.pickTarget()).toBe(c);
  });

  it('rotates between targets that tie', () => {
    const service = serviceWith(3);
    const picks = Array.from({ length: 6 }, () => service.pickTarget()?.address);
    expect(new Set(picks.slice(0, 3)).size).toBe(3);
    const counts = new Map<string, number>();
    for (const address of picks) counts.set(address!, (counts.get(address!) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2]);
  });

  it('never picks a busier target while a less loaded one exists', () => {
    const service = serviceWith(3);
    const [, , c] = service.targets;
    c!.inFlight = 4;
    const picks = Array.from({ length: 6 }, () => service.pickTarget());
    expect(picks).not.toContain(c);
  });

  // BUG (src/proxy/route-table.ts:55): the rotation index advances by one slot per pick,
  // whoever was picked. When the scan starts at a busy target, the first tied target after
  // it wins, so that target gets a double share: with [a, b, c] and c busy (a long request),
  // short requests go a, b, a, a, b, a, a, ... (a gets 2/3, b 1/3) instead of alternating.
  // Fix: continue the rotation after the target just picked:
  // `this.nextIndex = (indexOfBest + 1) % count` instead of `(this.nextIndex + 1) % count`.
  it('shares short requests evenly between tied targets while another target is busy', () => {
    const service = serviceWith(3);
    const [a, b, c] = service.targets;
    c!.inFlight = 1;
    // Each request finishes before the next arrives, so in-flight counts stay as they are.
    const picks = Array.from({ length: 6 }, () => service.pickTarget());
    expect(picks.filter((target) => target === a)).toHaveLength(3);
    expect(picks.filter((target) => target === b)).toHaveLength(3);
  });

  it('spreads concurrent requests when each pick counts as in flight', () => {
    const service = serviceWith(2);
    for (let i = 0; i < 4; i++) service.pickTarget()!.inFlight++;
    expect(service.targets.map((target) => target.inFlight)).toEqual([2, 2]);
  });
});

describe('Service.pickTarget with maxConcurrency', () => {
  function capped(count: number, maxConcurrency: number): Service {
    const service = new Service('web');
    service.maxConcurrency = maxConcurrency;
    service.targets = Array.from({ length: count }, (_, index) => Target.parse(`127.0.0.1:${9001 + index}`));
    return service;
  }

  it('never picks a target at its cap, and picks again once a slot frees', () => {
    const service = capped(2, 1);
    const first = service.pickTarget()!;
    first.inFlight++;
    const second = service.pickTarget()!;
    second.inFlight++;
    expect(second).not.toBe(first);
    expect(service.pickTarget()).toBeUndefined();
    first.inFlight--;
    expect(service.pickTarget()).toBe(first);
  });

  it('fills targets evenly up to the cap: fewest in flight first', () => {
    const service = capped(3, 2);
    for (let i = 0; i < 6; i++) service.pickTarget()!.inFlight++;
    expect(service.targets.map((target) => target.inFlight)).toEqual([2, 2, 2]);
    expect(service.pickTarget()).toBeUndefined();
  });

  it('has no cap without maxConcurrency, and an unbounded queue then', () => {
    const service = capped(1, 1);
    service.maxConcurrency = undefined;
    service.targets[0]!.inFlight = 500;
    expect(service.pickTarget()).toBe(service.targets[0]);
    expect(service.queueLimit).toBe(Number.POSITIVE_INFINITY);
  });

  it('bounds its queue by maxQueued, or a default, when capped', () => {
    const service = capped(1, 1);
    expect(service.queueLimit).toBe(DEFAULT_MAX_QUEUED);
    service.maxQueued = 3;
    expect(service.queueLimit).toBe(3);
  });

  it('takes the request timeout, the cap and the queue bound from a deploy; the head wait follows the timeout', () => {
    const table = new RouteTable();
    const { service } = table.apply(
      deploy('web', ['web.example.com'], [], { requestTimeoutMs: 120_000, maxConcurrency: 4, maxQueued: 9 }),
    );
    expect(service.info()).toMatchObject({
      requestTimeoutMs: 120_000,
      responseTimeoutMs: 120_000,
      maxConcurrency: 4,
      maxQueued: 9,
    });
    table.apply(deploy('web', ['web.example.com'], [], { requestTimeoutMs: 120_000, responseTimeoutMs: 5_000 }));
    expect(service.info()).toMatchObject({ requestTimeoutMs: 120_000, responseTimeoutMs: 5_000 });
    expect(service.info()).not.toHaveProperty('maxConcurrency');
  });
});

describe('Service.info', () => {
  it('reports hosts, targets with their in-flight counts and activity', () => {
    const table = new RouteTable();
    const { service } = table.apply(deploy('web', ['web.example.com'], ['127.0.0.1:9001'], { startupTimeoutMs: 500 }));
    service.targets[0]!.inFlight = 2;
    service.inFlight = 2;
    service.queue.enter(() => undefined);
    service.lastActivityAt = 42;
    expect(service.info()).toEqual({
      service: 'web',
      hosts: ['web.example.com'],
      targets: [{ address: '127.0.0.1:9001', inFlight: 2 }],
      startupTimeoutMs: 500,
      responseTimeoutMs: DEFAULT_RESPONSE_TIMEOUT_MS,
      forwardHeaders: false,
      tls: false,
      sslRedirect: false,
      activity: { lastActivityAt: 42, inFlight: 2, waiting: 1 },
    });
  });

  it('leaves lastActivityAt out before any request', () => {
    const { service } = new RouteTable().apply(deploy('web', ['web.example.com']));
    expect(service.info().activity).toEqual({ inFlight: 0, waiting: 0 });
  });
});

describe('RouteTable.routesRevision', () => {
  const share = (service: string, revision: string, weight: number) => ({ service, revision, weight });

  it('follows the revisions services serve and split among, through deploys and removals', () => {
    const table = new RouteTable();
    table.apply(deploy('web', ['web.localhost'], [], { revision: 'web-1' }));
    table.apply(deploy('web--web-2', [], [], { revision: 'web-2' }));
    expect([table.routesRevision('web-1'), table.routesRevision('web-2')]).toEqual([true, true]);
    // A split naming web-2 keeps it routed after its own service goes.
    table.apply(
      deploy('web', ['web.localhost'], [], { split: [share('web', 'web-1', 90), share('web--web-2', 'web-2', 10)] }),
    );
    table.remove('web--web-2');
    expect(table.routesRevision('web-2')).toBe(true);
    // The split ends, and the project moves to revision 3: only web-3 is named now.
    table.apply(deploy('web', ['web.localhost'], [], { revision: 'web-3', split: [] }));
    expect(['web-1', 'web-2', 'web-3'].map((revision) => table.routesRevision(revision))).toEqual([false, false, true]);
    table.remove('web');
    expect(table.routesRevision('web-3')).toBe(false);
  });
});
