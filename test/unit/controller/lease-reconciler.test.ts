import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryEventLog, type EventRecorder } from '../../../src/events/event-log.js';
import { KeyedLock } from '../../../src/util/keyed-lock.js';
import type { LeasePolicy } from '../../../src/controller/lease-policy.js';
import { LEASE_FINALIZER, LeaseReconciler } from '../../../src/controller/lease-reconciler.js';
import { PoolReconciler } from '../../../src/controller/pool-reconciler.js';
import { ADMISSION_RETRY_MS, MemoryBudget } from '../../../src/controller/memory-budget.js';
import type { ReconcileResult } from '../../../src/controller/work-queue.js';
import { API_VERSION, type LeaseObject, type LeaseSpec, type ProjectSpec } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { FakeLedger, TEST_LEASE_POLICY } from '../../support/fakes/fake-ledger.js';
import { FakeProber } from '../../support/fakes/fake-prober.js';

// Leases against fakes of the runtime and proxy, a real file store and an injected clock
// (pools only as leases claim from them: the pool's table is pool-reconciler.test.ts).
// Readiness is probed by an injected FakeProber: no sockets, no sleeps. A Knative-style
// table (at the end) gives rows with expected calls, phases and events, failure rows
// among them, each with its idempotency check; the tests before it follow longer stories.

const IMAGE = 'hello:latest';
const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const policy = TEST_LEASE_POLICY;

/** The bill as the docs state it: seconds × (cores × vCPU price + GiB × GiB price). */
function expectedCost(seconds: number, cpuMillis: number, memoryBytes: number): number {
  return seconds * ((cpuMillis / 1000) * 0.001 + (memoryBytes / GiB) * 0.0001);
}

/** The port fake containers are published on; the FakeProber finds it ready at once. */
const readyPort = 4321;
let prober: FakeProber;
let stateDir: string;
let store: FileStore;
let runtime: FakeRuntime;
let proxy: FakeProxy;
let ledger: FakeLedger;
let clock: { now: number };
let enqueued: string[];
let pools: PoolReconciler;
let leases: LeaseReconciler;
let events: MemoryEventLog;
/** Runtime and proxy calls, in order (`create c1`, `deploy lease.l1 [...]`). */
let log: string[];
/** Reasons of the events recorded, in order (the MemoryEventLog folds repeats into one). */
let recorded: string[];

function build(overrides: Partial<LeasePolicy> = {}, memory?: MemoryBudget): void {
  const poolLock = new KeyedLock();
  const effective = { ...policy, ...overrides };
  events = new MemoryEventLog({ now: () => clock.now });
  const toLog = events.recorder('controller');
  const recorder: EventRecorder = {
    record: (object, type, reason, message) => {
      recorded.push(reason);
      toLog.record(object, type, reason, message);
    },
  };
  pools = new PoolReconciler({
    store,
    runtime,
    logger: silentLogger(),
    policy: effective,
    poolLock,
    events: recorder,
    now: () => clock.now,
    probe: prober.probe,
    ...(memory ? { memory } : {}),
  });
  leases = new LeaseReconciler({
    store,
    runtime,
    proxy,
    logger: silentLogger(),
    policy: effective,
    ledger,
    events: recorder,
    pools,
    poolLock,
    admissionLock: new KeyedLock(),
    enqueue: (key) => enqueued.push(key),
    publicUrl: (host) => `http://${host}:8080/`,
    now: () => clock.now,
    probe: prober.probe,
    ...(memory ? { memory } : {}),
  });
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-leases-'));
  store = await FileStore.open(stateDir);
  log = [];
  recorded = [];
  runtime = new FakeRuntime({ images: [IMAGE], hostPort: readyPort, log });
  proxy = new FakeProxy(log);
  ledger = new FakeLedger();
  clock = { now: NOW };
  enqueued = [];
  prober = new FakeProber();
  build();
});

afterEach(async () => {
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function project(spec: Partial<ProjectSpec> = {}, name = 'web'): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: IMAGE, hostnames: [`${name}.localhost`], ...spec },
  });
}

async function lease(name: string, spec: Partial<LeaseSpec> = {}): Promise<LeaseObject> {
  const { object } = await store.apply({
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: { name },
    spec: { project: 'web', ttl: '10m', ...spec },
  });
  return object as LeaseObject;
}

function leaseStatus(name: string): LeaseObject['status'] {
  return store.get('Lease', name)?.status;
}

async function fillPool(name = 'web'): Promise<void> {
  for (let round = 0; round < 10; round += 1) {
    const result: ReconcileResult = await pools.reconcile(name);
    if (!result?.requeueAfterMs) return;
    clock.now += result.requeueAfterMs;
  }
  throw new Error('the pool never filled');
}

describe('lease', () => {
  it('claims a ready pool container: Active, fromPool, routed at <lease>.<first hostname>, and the pool refills', async () => {
    await project({ pool: { size: 2 } });
    await fillPool();
    runtime.resetCalls();
    await lease('l1');
    await leases.reconcile('l1');

    const status = leaseStatus('l1');
    expect(status?.phase).toBe('Active');
    expect(status?.fromPool).toBe(true);
    expect(status?.startedAt).toBe(new Date(NOW).toISOString());
    expect(status?.expiresAt).toBe(new Date(NOW + 600_000).toISOString());
    expect(status?.url).toBe('http://l1.web.localhost:8080/');
    expect(status?.estimatedCost).toBeCloseTo(expectedCost(600, 250, 256 * MiB), 10);
    expect(store.get('Lease', 'l1')?.metadata.finalizers).toEqual([LEASE_FINALIZER]);
    expect(runtime.mutations().some((call) => call.op === 'claim' && call.lease === 'l1')).toBe(true);
    expect(runtime.mutations().some((call) => call.op === 'create')).toBe(false);
    expect(proxy.lastDeploy('lease.l1')).toMatchObject({
      hosts: ['l1.web.localhost'],
      targets: [`127.0.0.1:${readyPort}`],
    });
    expect(enqueued).toContain('Pool/web');
    expect(await runtime.list({ kind: 'Project', name: 'web', role: 'pool' })).toHaveLength(1);
    expect(await runtime.list({ kind: 'Lease', name: 'l1' })).toHaveLength(1);

    // Idempotent once Active.
    runtime.resetCalls();
    proxy.resetCalls();
    await leases.reconcile('l1');
    expect(runtime.mutations()).toEqual([]);
    expect(proxy.deploys).toEqual([]);
  });

  it("follows its project's first hostname: a project that gives its name away moves its lease too", async () => {
    await project();
    await lease('fresh');
    await leases.reconcile('fresh');
    expect(proxy.lastDeploy('lease.fresh')?.hosts).toEqual(['fresh.web.localhost']);
    await project({ hostnames: ['moved.localhost'] });
    await leases.reconcile('fresh');
    expect(proxy.lastDeploy('lease.fresh')?.hosts).toEqual(['fresh.moved.localhost']);
    expect(leaseStatus('fresh')?.phase).toBe('Active');
  });

  it('starts a fresh container when the pool is empty, or when the lease brings its own env', async () => {
    await project({ env: { GREETING: 'hi' }, args: ['--verbose'] });
    await lease('fresh', { env: { EXTRA: '1' }, resources: { cpu: '500m', memory: '512Mi' } });
    await leases.reconcile('fresh');
    const status = leaseStatus('fresh');
    expect(status?.phase).toBe('Active');
    expect(status?.fromPool).toBe(false);
    const create = runtime.mutations().find((call) => call.op === 'create');
    expect(create?.op === 'create' && create.spec).toMatchObject({
      role: 'lease',
      owner: { kind: 'Lease', name: 'fresh' },
      cpuMillis: 500,
      memoryBytes: 512 * MiB,
      env: { EXTRA: '1', GREETING: 'hi', PORT: '8080' },
      args: ['--verbose'],
    });
    expect(status?.resources).toEqual({ cpu: '500m', memory: '512Mi' });
  });

  it('waits Pending, with no container and no bill, while the host has no memory for a fresh one', async () => {
    build(
      {},
      new MemoryBudget({
        limitBytes: 300 * MiB,
        unlimitedContainerBytes: 512 * MiB,
        runtime,
        leaseMemory: () => undefined,
        logger: silentLogger(),
      }),
    );
    await project({ resources: { memory: '64Mi' } });
    // A running instance of the project holds 64Mi; nothing here may stop it.
    const instance = runtime.seed({
      owner: { kind: 'Project', name: 'web', uid: 'u' },
      specHash: 'h',
      state: 'running',
      hostPort: readyPort,
      memoryBytes: 64 * MiB,
    });
    await lease('wait');
    expect(await leases.reconcile('wait')).toEqual({ requeueAfterMs: ADMISSION_RETRY_MS });
    const waiting = store.get('Lease', 'wait');
    expect(waiting?.status?.phase).toBe('Pending');
    expect(waiting?.status?.startedAt).toBeUndefined();
    const ready = waiting?.status?.conditions?.find((condition) => condition.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InsufficientMemory' });
    expect(ready?.message).toContain('not enough memory to start Lease/wait');
    expect(runtime.mutations().some((call) => call.op === 'create')).toBe(false);

    runtime.containers.delete(instance.id);
    await leases.reconcile('wait');
    expect(leaseStatus('wait')?.phase).toBe('Active');
  });

  it('sets a pool container to the lease limits in place, or starts fresh when that fails', async () => {
    await project({ pool: { size: 2 } });
    await fillPool();
    await lease('big', { resources: { cpu: '1', memory: '1Gi' } });
    await leases.reconcile('big');
    const claimed = (await runtime.list({ kind: 'Lease', name: 'big' }))[0];
    expect(claimed && runtime.limits.get(claimed.id)).toEqual({ cpuMillis: 1000, memoryBytes: GiB });
    expect(leaseStatus('big')?.fromPool).toBe(true);

    runtime.failUpdates = 'engine refuses';
    await lease('big2', { resources: { cpu: '1', memory: '1Gi' } });
    await leases.reconcile('big2');
    expect(leaseStatus('big2')?.fromPool).toBe(false);
    expect(await runtime.list({ kind: 'Project', name: 'web', role: 'pool' })).toHaveLength(1);
  });

  it('expires on time: SIGTERM with the grace period, container removed, route removed, bill = runtime × prices', async () => {
    await project();
    await lease('l1', { ttl: '5m' });
    await leases.reconcile('l1');
    const container = (await runtime.list({ kind: 'Lease', name: 'l1' }))[0];
    clock.now += 300_000;
    runtime.resetCalls();
    await leases.reconcile('l1');
    expect(runtime.mutations()).toEqual([
      { op: 'stop', id: container?.id, timeoutSeconds: 5 },
      { op: 'remove', id: container?.id },
    ]);
    expect(proxy.removes).toContain('lease.l1');
    const status = leaseStatus('l1');
    expect(status?.phase).toBe('Expired');
    expect(status?.cost).toBeCloseTo(expectedCost(300, 250, 256 * MiB), 10);
    expect(ledger.records).toHaveLength(1);
    expect(ledger.records[0]).toMatchObject({
      lease: 'l1',
      project: 'web',
      runtimeSeconds: 300,
      reason: 'Expired',
      fromPool: false,
    });
    expect(events.list({ kind: 'Lease', name: 'l1' }).map((event) => event.reason)).toEqual(['Started', 'Expired']);
  });

  it('after a controller restart past expiry, ends the lease at once and bills the real runtime', async () => {
    await project();
    await lease('l1', { ttl: '5m' });
    await leases.reconcile('l1');
    // The controller was down for 20 minutes; the container kept running all along.
    clock.now += 1_200_000;
    build();
    await leases.reconcile('l1');
    expect(leaseStatus('l1')?.phase).toBe('Expired');
    expect(ledger.records[0]?.runtimeSeconds).toBe(1_200);
    expect(await runtime.list({ kind: 'Lease' })).toEqual([]);
  });

  it('a crash after the container stopped but before the bill: the next reconcile bills once', async () => {
    await project();
    await lease('l1', { ttl: '5m' });
    await leases.reconcile('l1');
    clock.now += 300_000;
    await leases.reconcile('l1');
    // Replaying the end (as after a crash before the phase was written) appends nothing new.
    await store.mutateStatus('Lease', 'l1', (current) => ({ ...current.status, phase: 'Active' }));
    await leases.reconcile('l1');
    expect(ledger.records).toHaveLength(1);
    expect(leaseStatus('l1')?.phase).toBe('Expired');
  });

  it('a delete releases the lease, bills it, and then lets the object go', async () => {
    await project();
    await lease('l1');
    await leases.reconcile('l1');
    clock.now += 42_000;
    await store.delete('Lease', 'l1');
    expect(store.get('Lease', 'l1')?.metadata.deletionTimestamp).toBeDefined();
    await leases.reconcile('l1');
    expect(store.get('Lease', 'l1')).toBeUndefined();
    expect(ledger.records[0]).toMatchObject({ reason: 'Released', runtimeSeconds: 42 });
    expect(await runtime.list({ kind: 'Lease' })).toEqual([]);
  });

  it('waits Pending over the total cap and starts, first come first served, when a place frees', async () => {
    build({ maxActiveLeases: 1 });
    await project();
    await lease('a');
    clock.now += 1;
    await lease('b');
    await lease('c');
    await leases.reconcile('c');
    await leases.reconcile('a');
    await leases.reconcile('b');
    expect(leaseStatus('a')?.phase).toBe('Active');
    expect(leaseStatus('b')?.phase).toBe('Pending');
    expect(leaseStatus('b')?.conditions?.[0]).toMatchObject({ reason: 'WaitingForCapacity' });
    expect(leaseStatus('b')?.conditions?.[0]?.message).toContain('leases.maxActive');
    // Its hostname answers at once with why, rather than holding requests.
    expect(proxy.lastDeploy('lease.b')).toMatchObject({
      hosts: ['b.web.localhost'],
      targets: [],
      unavailableReason: expect.stringContaining('waiting for capacity'),
    });
    // Looked at again while it still waits: its route stays as it is (no flap through "held").
    proxy.resetCalls();
    await leases.reconcile('b');
    expect(proxy.deploys).toEqual([]);
    await store.delete('Lease', 'a');
    await leases.reconcile('a');
    expect(enqueued).toEqual(expect.arrayContaining(['Lease/b', 'Lease/c']));
    // c arrived after b: it still waits when both are looked at.
    await leases.reconcile('c');
    await leases.reconcile('b');
    expect(leaseStatus('b')?.phase).toBe('Active');
    expect(leaseStatus('c')?.phase).toBe('Pending');
  });

  it('honours the project cap without holding back leases of other projects', async () => {
    await project({ leases: { maxConcurrent: 1 } });
    await project({}, 'api');
    await lease('w1');
    await lease('w2');
    await lease('a1', { project: 'api' });
    for (const name of ['w1', 'w2', 'a1']) await leases.reconcile(name);
    expect(leaseStatus('w1')?.phase).toBe('Active');
    expect(leaseStatus('w2')?.phase).toBe('Pending');
    expect(leaseStatus('w2')?.conditions?.[0]?.message).toContain('spec.leases.maxConcurrent');
    expect(leaseStatus('a1')?.phase).toBe('Active');
  });

  it('releases after its idle timeout without requests', async () => {
    await project();
    await lease('idle', { idleTimeout: '30s' });
    const first = await leases.reconcile('idle');
    expect(first).toBeDefined();
    clock.now += 20_000;
    proxy.setActivity('lease.idle', { lastActivityAt: clock.now, inFlight: 0, waiting: 0 });
    await leases.reconcile('idle');
    expect(leaseStatus('idle')?.phase).toBe('Active');
    clock.now += 30_000;
    await leases.reconcile('idle');
    expect(leaseStatus('idle')?.phase).toBe('Released');
    expect(ledger.records[0]?.reason).toBe('IdleTimeout');
  });

  it('removes containers whose lease no longer exists', async () => {
    runtime.seed({ owner: { kind: 'Lease', name: 'ghost', uid: 'gone' }, specHash: 'x', state: 'running' });
    await leases.reconcile('ghost');
    expect(await runtime.list({ kind: 'Lease' })).toEqual([]);
  });

  it('a lease of a project that does not exist waits with the reason', async () => {
    await lease('orphan', { project: 'nope' });
    await leases.reconcile('orphan');
    expect(leaseStatus('orphan')?.phase).toBe('Pending');
    expect(leaseStatus('orphan')?.conditions?.[0]).toMatchObject({ reason: 'ProjectNotFound' });
  });
});

describe('lease after a crash mid-start', () => {
  it('adopts a container claimed before the crash, says fromPool, and bills from admission', async () => {
    await project({ pool: { size: 1 } });
    await fillPool();
    const stored = await lease('mid');
    const admittedAt = new Date(clock.now).toISOString();
    await store.mutateStatus('Lease', 'mid', () => ({ phase: 'Pending', admittedAt }));
    const pooled = (await runtime.list({ role: 'pool' }))[0];
    await runtime.claim(pooled!, { kind: 'Lease', name: 'mid', uid: stored.metadata.uid ?? '' });
    clock.now += 5_000;
    build();
    await leases.reconcile('mid');
    expect(leaseStatus('mid')).toMatchObject({ phase: 'Active', fromPool: true, startedAt: admittedAt });
    expect(await runtime.list({ kind: 'Lease', name: 'mid' })).toHaveLength(1);
  });
});

const ROUTED = `deploy lease.l1 [127.0.0.1:${readyPort}]`;
const HELD = 'deploy lease.l1 []';
const TTL_MS = 600_000;

interface LeaseRow {
  name: string;
  /** The lease's project, created before the lease; null: none. */
  project: Partial<ProjectSpec> | null;
  /** Earlier reconciles, pool fills, clock moves: the state before the reconcile under test. */
  given?: () => void | Promise<void>;
  /** Calls that fail once (runtime.failOn, proxy.failOn, prober.failNext), and the error the reconcile throws. */
  failures?: () => void;
  wantError?: RegExp;
  wantResult?: ReconcileResult;
  /** Runtime and proxy calls, in order. */
  wantLog: string[];
  /** The lease's phase and Ready reason; undefined phase: the object is gone. */
  wantPhase?: NonNullable<LeaseObject['status']>['phase'];
  wantReason?: string;
  wantEvents?: string[];
  check?: () => void;
}

function readyReason(): string | undefined {
  return leaseStatus('l1')?.conditions?.find((condition) => condition.type === 'Ready')?.reason;
}

const leaseRows: LeaseRow[] = [
  {
    name: 'an empty pool → a fresh container: routed held, created, started, routed, Active',
    project: {},
    wantLog: [HELD, 'create c1', 'start c1', ROUTED],
    wantResult: { requeueAfterMs: TTL_MS },
    wantPhase: 'Active',
    wantReason: 'Active',
    wantEvents: ['Started'],
  },
  {
    name: 'a ready pool container → claimed, routed, Active, the pool asked to refill',
    project: { pool: { size: 1 } },
    given: fillPool,
    wantLog: [HELD, 'claim c1 l1', ROUTED],
    wantResult: { requeueAfterMs: TTL_MS },
    wantPhase: 'Active',
    wantEvents: ['ClaimedFromPool'],
    check: () => expect(enqueued).toContain('Pool/web'),
  },
  {
    name: 'over the total cap → Pending, WaitingForCapacity, answered at once with why',
    project: {},
    given: () => build({ maxActiveLeases: 0 }),
    wantLog: [HELD, HELD],
    wantPhase: 'Pending',
    wantReason: 'WaitingForCapacity',
    wantEvents: ['WaitingForCapacity'],
  },
  {
    name: 'no such project → Pending, ProjectNotFound, nothing routed',
    project: null,
    wantLog: [],
    wantPhase: 'Pending',
    wantReason: 'ProjectNotFound',
  },
  {
    name: 'past its expiry → route removed, stopped, removed, billed, Expired',
    project: {},
    given: async () => {
      await leases.reconcile('l1');
      clock.now += TTL_MS;
    },
    wantLog: ['remove-service lease.l1', 'stop c1', 'remove c1'],
    wantPhase: 'Expired',
    wantReason: 'Expired',
    wantEvents: ['Expired'],
    check: () => expect(ledger.records).toHaveLength(1),
  },
  {
    name: 'deleted → released and billed, then the object goes',
    project: {},
    given: async () => {
      await leases.reconcile('l1');
      clock.now += 42_000;
      await store.delete('Lease', 'l1');
    },
    wantLog: ['remove-service lease.l1', 'stop c1', 'remove c1'],
    wantEvents: ['Released'],
    check: () => {
      expect(store.get('Lease', 'l1')).toBeUndefined();
      expect(ledger.records[0]).toMatchObject({ reason: 'Released', runtimeSeconds: 42 });
    },
  },
  // Failure rows: one call fails; the reconcile says so (or ends the lease), and the next converges.
  {
    name: 'create fails → the error rethrown, admitted and still Pending, no bill',
    project: {},
    failures: () => runtime.failOn('create', new Error('no space left on device'), 1),
    wantError: /no space left on device/,
    wantLog: [HELD],
    wantPhase: 'Pending',
    wantReason: 'Starting',
    check: () => expect(leaseStatus('l1')?.startedAt).toBeUndefined(),
  },
  {
    name: 'start fails → the error rethrown; the created container is replaced by the retry',
    project: {},
    failures: () => runtime.failOn('start', new Error('port is already allocated'), 1),
    wantError: /port is already allocated/,
    wantLog: [HELD, 'create c1'],
    wantPhase: 'Pending',
  },
  {
    name: 'never ready → the container removed, Failed, StartFailed',
    project: {},
    failures: () => prober.failNext(1),
    wantLog: [HELD, 'create c1', 'start c1', 'remove c1'],
    wantPhase: 'Failed',
    wantReason: 'StartFailed',
    wantEvents: ['StartFailed'],
  },
  {
    name: 'the route to the container fails → the container removed, Failed, RouteFailed',
    project: {},
    // The held route is in place already, so the deploy that fails is the one with the target.
    given: () => proxy.seed({ service: 'lease.l1', hosts: ['l1.web.localhost'], targets: [] }),
    failures: () => proxy.failOn('deploy', new Error('proxy socket closed'), 1),
    wantLog: ['create c1', 'start c1', 'remove c1'],
    wantPhase: 'Failed',
    wantReason: 'RouteFailed',
    wantEvents: ['RouteFailed'],
  },
  {
    name: 'the claim fails → the error rethrown; the retry starts a fresh container',
    project: { pool: { size: 1 } },
    given: fillPool,
    failures: () => runtime.failOn('claim', new Error('container renamed by hand'), 1),
    wantError: /container renamed by hand/,
    wantLog: [HELD],
    wantPhase: 'Pending',
  },
  {
    name: 'asking the proxy fails → the error rethrown before anything is done',
    project: {},
    failures: () => proxy.failOn('getService', new Error('proxy socket closed'), 1),
    wantError: /proxy socket closed/,
    wantLog: [],
  },
  {
    name: 'stopping at expiry fails → the error rethrown, no bill yet; the retry bills once',
    project: {},
    given: async () => {
      await leases.reconcile('l1');
      clock.now += TTL_MS;
    },
    failures: () => runtime.failOn('stop', new Error('engine timed out'), 1),
    wantError: /engine timed out/,
    wantLog: ['remove-service lease.l1'],
    wantPhase: 'Active',
    check: () => expect(ledger.records).toEqual([]),
  },
  {
    name: 'listing an admitted lease’s containers fails → the error rethrown',
    project: {},
    given: async () => void (await leases.reconcile('l1')),
    failures: () => runtime.failOn('list', new Error('list failed'), 1),
    wantError: /list failed/,
    wantLog: [],
    wantPhase: 'Active',
  },
];

describe('LeaseReconciler table', () => {
  async function arrange(row: LeaseRow): Promise<void> {
    if (row.project) await project(row.project);
    await lease('l1');
    await row.given?.();
    log.length = 0;
    recorded.length = 0;
    runtime.resetCalls();
    proxy.resetCalls();
  }

  describe.each(leaseRows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    it('converges', async () => {
      await arrange(row);
      row.failures?.();
      const outcome = leases.reconcile('l1');
      if (row.wantError) await expect(outcome).rejects.toThrow(row.wantError);
      else expect(await outcome).toEqual(row.wantResult);
      expect(log).toEqual(row.wantLog);
      expect(leaseStatus('l1')?.phase).toBe(row.wantPhase);
      if (row.wantReason) expect(readyReason()).toBe(row.wantReason);
      expect(recorded).toEqual(row.wantEvents ?? []);
      row.check?.();
    });

    // A failure row's call fails once: the reconcile after it converges, and the one after that does nothing.
    it('is idempotent: once converged, another reconcile calls, writes and records nothing', async () => {
      await arrange(row);
      row.failures?.();
      await leases.reconcile('l1').catch(() => undefined);
      if (row.failures) await leases.reconcile('l1');
      const converged = store.get('Lease', 'l1');
      const bills = ledger.records.length;
      log.length = 0;
      recorded.length = 0;

      await leases.reconcile('l1');
      expect(log).toEqual([]);
      expect(recorded).toEqual([]);
      expect(store.get('Lease', 'l1')?.metadata.resourceVersion).toBe(converged?.metadata.resourceVersion);
      expect(ledger.records).toHaveLength(bills);
    });
  });
});
