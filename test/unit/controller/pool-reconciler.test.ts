import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LeasePolicy } from '../../../src/controller/lease-policy.js';
import { PoolReconciler, poolTemplate } from '../../../src/controller/pool-reconciler.js';
import { IMAGE_RECHECK_MS } from '../../../src/controller/requeue.js';
import type { ReconcileResult } from '../../../src/controller/work-queue.js';
import type { EventRecorder } from '../../../src/events/event-log.js';
import { API_VERSION, type ProjectObject, type ProjectSpec, type ProjectStatus } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { KeyedLock } from '../../../src/util/keyed-lock.js';
import { silentLogger } from '../../../src/util/logger.js';
import { TEST_LEASE_POLICY } from '../../support/fakes/fake-ledger.js';
import { FakeProber } from '../../support/fakes/fake-prober.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// Knative-style table for the pool reconciler: each row gives the project (its pool size),
// the pool containers that exist and calls that fail on demand; then the runtime calls (in
// order), status.pool, the events and the requeue expected. Every row is then driven until
// its pool is full (the clock moved past each batch spacing), and one more reconcile must
// change, write and record nothing. Readiness is probed by a FakeProber: no sockets.

const NAME = 'web';
const IMAGE = 'hello:latest';
const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const PORT = 4321;
type PoolStatus = ProjectStatus['pool'];

interface World {
  store: FileStore;
  runtime: FakeRuntime;
  prober: FakeProber;
  pools: PoolReconciler;
  clock: { now: number };
  /** Events recorded, as their reasons. */
  events: string[];
}

let stateDir: string;
let world: World;

function build(parts: Omit<World, 'pools'>, overrides: Partial<LeasePolicy> = {}): PoolReconciler {
  const events: EventRecorder = { record: (_object, _type, reason) => parts.events.push(reason) };
  return new PoolReconciler({
    store: parts.store,
    runtime: parts.runtime,
    logger: silentLogger(),
    policy: { ...TEST_LEASE_POLICY, ...overrides },
    poolLock: new KeyedLock(),
    events,
    now: () => parts.clock.now,
    probe: parts.prober.probe,
  });
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-pools-'));
  const store = await FileStore.open(stateDir);
  const runtime = new FakeRuntime({ images: [IMAGE], hostPort: PORT });
  const parts = { store, runtime, prober: new FakeProber(), clock: { now: NOW }, events: [] };
  world = { ...parts, pools: build(parts) };
});

afterEach(async () => {
  await world.store.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function project(spec: Partial<ProjectSpec> = {}): Promise<ProjectObject> {
  const { object } = await world.store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: NAME },
    spec: { image: IMAGE, hostnames: [`${NAME}.localhost`], ...spec },
  });
  return object as ProjectObject;
}

/**
 * Reconciles as the queue would (a failure retried after the batch spacing), the clock
 * moved to each requeue, until no requeue is asked for or `rounds` have passed.
 */
async function fillPool(rounds = 10): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    const result = await world.pools
      .reconcile(NAME)
      .catch((): ReconcileResult => ({ requeueAfterMs: TEST_LEASE_POLICY.poolBatchSpacingMs }));
    if (!result?.requeueAfterMs) return;
    world.clock.now += result.requeueAfterMs;
  }
}

function templateHash(project: ProjectObject): string {
  const template = poolTemplate(project, IMAGE, TEST_LEASE_POLICY);
  if (!('hash' in template)) throw new Error(`no template: ${template.missingSecret}`);
  return template.hash;
}

/** A pool container as a controller before a restart left it: running, from the current template. */
function seedPooled(project: ProjectObject, specHash?: string): void {
  world.runtime.seed({
    owner: { kind: 'Project', name: NAME, uid: project.metadata.uid ?? '' },
    role: 'pool',
    specHash: specHash ?? templateHash(project),
    state: 'running',
    hostPort: PORT,
  });
}

function poolStatus(): PoolStatus {
  return world.store.get('Project', NAME)?.status?.pool;
}

function clearCalls(): void {
  world.runtime.resetCalls();
  world.runtime.log.length = 0;
  world.events.length = 0;
}

interface Row {
  name: string;
  /** The project's spec; null when it does not exist. */
  spec: Partial<ProjectSpec> | null;
  given?: (project: ProjectObject | undefined) => void | Promise<void>;
  /** Calls that fail once (runtime.failOn, prober.failNext), and the error the reconcile throws. */
  failures?: () => void;
  wantError?: RegExp;
  wantResult?: ReconcileResult;
  /** Runtime calls, in order. */
  wantLog: string[];
  wantPool?: PoolStatus;
  wantEvents?: string[];
  check?: () => void;
}

const SIZE_1 = { pool: { size: 1 } };
const SIZE_2 = { pool: { size: 2 } };

const rows: Row[] = [
  {
    name: 'size 3 → a first batch of 2 created (with the project’s command and args), started and probed; the rest after the batch spacing',
    spec: { pool: { size: 3 }, command: ['/app'], args: ['serve'] },
    wantLog: ['create c1', 'create c2', 'start c1', 'start c2'],
    wantResult: { requeueAfterMs: 1_000 },
    wantPool: { size: 3, ready: 2, starting: 0 },
    wantEvents: ['PoolRefilled'],
    check: () => {
      expect(world.prober.count(PORT)).toBe(2);
      const create = world.runtime.calls[0];
      expect(create?.op === 'create' && create.spec).toMatchObject({
        role: 'pool',
        cpuMillis: 250,
        command: ['/app'],
        args: ['serve'],
      });
    },
  },
  {
    name: 'too early for the next batch → nothing started, a requeue when it is due',
    spec: { pool: { size: 3 } },
    given: async () => {
      await world.pools.reconcile(NAME);
      world.clock.now += 400;
    },
    wantLog: [],
    wantResult: { requeueAfterMs: 600 },
    wantPool: { size: 3, ready: 2, starting: 0 },
  },
  {
    name: 'full → nothing',
    spec: SIZE_2,
    given: () => fillPool(),
    wantLog: [],
    wantPool: { size: 2, ready: 2, starting: 0 },
  },
  {
    name: 'found after a restart → probed once and kept, nothing started',
    spec: SIZE_2,
    given: (project) => {
      seedPooled(project as ProjectObject);
      seedPooled(project as ProjectObject);
    },
    wantLog: [],
    wantPool: { size: 2, ready: 2, starting: 0 },
    check: () => expect(world.prober.count(PORT)).toBe(2),
  },
  {
    name: 'made from an old spec → removed and replaced',
    spec: SIZE_1,
    given: (project) => seedPooled(project as ProjectObject, 'old-hash'),
    wantLog: ['remove c1', 'create c2', 'start c2'],
    wantPool: { size: 1, ready: 1, starting: 0 },
    wantEvents: ['PoolRefilled'],
  },
  {
    name: 'size lowered → the surplus removed',
    spec: SIZE_1,
    given: async () => {
      await project(SIZE_2);
      await fillPool();
    },
    wantLog: ['remove c2'],
    wantPool: { size: 1, ready: 1, starting: 0 },
  },
  {
    name: 'the project deleted → every pool container removed',
    spec: null,
    given: async () => {
      await project(SIZE_2);
      await fillPool();
      await world.store.delete('Project', NAME);
    },
    wantLog: ['remove c1', 'remove c2'],
  },
  {
    name: 'its image refused by the allowlist → every pool container removed',
    spec: SIZE_1,
    given: async () => {
      await fillPool();
      world.pools = build(world, { imageAllowlist: ['registry.example/*'] });
    },
    wantLog: ['remove c1'],
    wantPool: { size: 1, ready: 0, starting: 0 },
  },
  {
    name: 'its Image not built yet → nothing started, looked at again later',
    spec: { image: 'site', pool: { size: 1 } },
    given: async () =>
      void (await world.store.apply({
        apiVersion: API_VERSION,
        kind: 'Image',
        metadata: { name: 'site' },
        spec: { ref: 'site:1' },
      })),
    wantLog: [],
    wantResult: { requeueAfterMs: IMAGE_RECHECK_MS },
    wantPool: { size: 1, ready: 0, starting: 0 },
  },
  {
    name: 'a ready container removed by hand → DriftDetected, a replacement started',
    spec: SIZE_2,
    given: async () => {
      await fillPool();
      world.runtime.containers.delete('c1');
      world.clock.now += 1_000;
    },
    wantLog: ['create c3', 'start c3'],
    wantPool: { size: 2, ready: 2, starting: 0 },
    wantEvents: ['DriftDetected', 'PoolRefilled'],
  },
  // Failure rows: one call fails; the reconcile says so, and the queue's retry fills the pool.
  {
    name: 'create fails → PoolStartFailed, the error rethrown',
    spec: SIZE_1,
    failures: () => world.runtime.failOn('create', new Error('no space left on device'), 1),
    wantError: /pool of web: no space left on device/,
    wantLog: [],
    wantPool: { size: 1, ready: 0, starting: 0 },
    wantEvents: ['PoolStartFailed'],
  },
  {
    name: 'start fails → the created container removed, the error rethrown',
    spec: SIZE_1,
    failures: () => world.runtime.failOn('start', new Error('port is already allocated'), 1),
    wantError: /port is already allocated/,
    wantLog: ['create c1', 'remove c1'],
    wantPool: { size: 1, ready: 0, starting: 0 },
    wantEvents: ['PoolStartFailed'],
  },
  {
    name: 'never ready → the container removed, the error rethrown',
    spec: SIZE_1,
    failures: () => world.prober.failNext(1),
    wantError: /did not become ready/,
    wantLog: ['create c1', 'start c1', 'remove c1'],
    wantPool: { size: 1, ready: 0, starting: 0 },
    wantEvents: ['PoolStartFailed'],
  },
  {
    name: 'removing the surplus fails → the error rethrown',
    spec: SIZE_1,
    given: async () => {
      await project(SIZE_2);
      await fillPool();
    },
    failures: () => world.runtime.failOn('remove', new Error('engine timed out'), 1),
    wantError: /engine timed out/,
    wantLog: [],
    wantPool: { size: 2, ready: 2, starting: 0 },
  },
  {
    name: 'listing fails → the error rethrown before anything is done',
    spec: SIZE_1,
    failures: () => world.runtime.failOn('list', new Error('list failed'), 1),
    wantError: /list failed/,
    wantLog: [],
  },
];

async function arrange(row: Row): Promise<void> {
  const stored = row.spec ? await project(row.spec) : undefined;
  await row.given?.(stored);
  if (row.spec) await project(row.spec);
  clearCalls();
}

describe('PoolReconciler', () => {
  describe.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    it('converges', async () => {
      await arrange(row);
      row.failures?.();
      const outcome = world.pools.reconcile(NAME);
      if (row.wantError) await expect(outcome).rejects.toThrow(row.wantError);
      else expect(await outcome).toEqual(row.wantResult);
      expect(world.runtime.log).toEqual(row.wantLog);
      expect(poolStatus()).toEqual(row.wantPool);
      expect(world.events).toEqual(row.wantEvents ?? []);
      row.check?.();
    });

    // Driven until full (or, waiting for its image, as far as it goes): the next reconcile does nothing.
    it('is idempotent: once converged, another reconcile changes, writes and records nothing', async () => {
      await arrange(row);
      row.failures?.();
      await fillPool();
      const converged = await world.pools.reconcile(NAME);
      const full = world.store.get('Project', NAME);
      clearCalls();

      expect(await world.pools.reconcile(NAME)).toEqual(converged);
      expect(world.runtime.log).toEqual([]);
      expect(world.events).toEqual([]);
      expect(world.store.get('Project', NAME)?.metadata.resourceVersion).toBe(full?.metadata.resourceVersion);
    });
  });

  it('a claimed container is no longer the pool’s: no drift, and the pool refills', async () => {
    const stored = await project(SIZE_2);
    await fillPool();
    const [claimed] = await world.runtime.list({ role: 'pool' });
    await world.runtime.claim(claimed!, { kind: 'Lease', name: 'l1', uid: 'lease-uid' });
    world.pools.forget(claimed!.id);
    expect(world.pools.readyFor(stored.metadata.uid ?? '', templateHash(stored))).toHaveLength(1);
    world.clock.now += 1_000;
    clearCalls();
    await world.pools.reconcile(NAME);
    expect(world.runtime.log).toEqual(['create c3', 'start c3']);
    expect(world.events).toEqual(['PoolRefilled']);
  });
});
