import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findCondition } from '../../../src/controller/conditions.js';
import { ADMISSION_RETRY_MS, MemoryBudget } from '../../../src/controller/memory-budget.js';
import { ProjectReconciler } from '../../../src/controller/project-reconciler.js';
import { MemoryEventLog, type LumaEvent } from '../../../src/events/event-log.js';
import { API_VERSION, type ProjectObject, type ProjectSpec } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { startReadyApp, type ReadyApp } from '../../support/fakes/ready-app.js';

// Admission by memory acted on: the budget asks the project reconciler which instances are
// idle, has it stop them (route first), and holds a start that cannot get room.

const Mi = 2 ** 20;
const NOW = Date.parse('2026-12-02T00:00:00.000Z');
const IMAGE = 'hello:latest';

let readyPort: number;
let readyApp: ReadyApp;

beforeAll(async () => {
  readyApp = await startReadyApp();
  readyPort = readyApp.port;
});

afterAll(async () => {
  await readyApp.close();
});

let stateDir: string;
let store: FileStore;
let runtime: FakeRuntime;
let proxy: FakeProxy;
let log: string[];
let events: LumaEvent[];

function reconcilerWith(limitMi: number, unlimitedMi = 512): ProjectReconciler {
  const budget = new MemoryBudget({
    limitBytes: limitMi * Mi,
    unlimitedContainerBytes: unlimitedMi * Mi,
    runtime,
    leaseMemory: () => undefined,
    logger: silentLogger(),
  });
  const eventLog = new MemoryEventLog({ now: () => NOW });
  eventLog.subscribe((event) => events.push(event));
  const reconciler = new ProjectReconciler({
    store,
    runtime,
    proxy,
    logger: silentLogger(),
    now: () => NOW,
    stopTimeoutSeconds: 1,
    publicUrl: (host) => `http://${host}`,
    memory: budget,
    events: eventLog.recorder('controller'),
  });
  budget.attachIdleContainers(reconciler);
  return reconciler;
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-memory-'));
  store = await FileStore.open(stateDir);
  log = [];
  events = [];
  runtime = new FakeRuntime({ images: [IMAGE], hostPort: readyPort, log });
  proxy = new FakeProxy(log);
});

afterEach(async () => {
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function project(name: string, spec: Partial<ProjectSpec> = {}): Promise<void> {
  const object: ProjectObject = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: IMAGE, hostnames: [`${name}.localhost`], resources: { memory: '64Mi' }, ...spec },
  };
  await store.apply(object);
}

/** A held request starts the project; then it is quiet (nothing in flight, nothing held). */
async function startThenQuiet(reconciler: ProjectReconciler, name: string, lastActivityAt = NOW): Promise<void> {
  proxy.setActivity(name, { inFlight: 0, waiting: 1, lastActivityAt });
  await reconciler.reconcile(name);
  proxy.setActivity(name, { inFlight: 0, waiting: 0, lastActivityAt });
}

function runningOf(name: string): string[] {
  return [...runtime.containers.values()]
    .filter((container) => container.owner.name === name && container.state === 'running')
    .map((container) => container.id);
}

describe('admission by memory in the project reconciler', () => {
  it('stops the least recently used idle instance, route first, to make room for a start', async () => {
    const reconciler = reconcilerWith(160);
    await project('older');
    await project('newer');
    await project('wanted');
    await startThenQuiet(reconciler, 'older', NOW - 30_000);
    await startThenQuiet(reconciler, 'newer', NOW - 10_000);
    const [olderId] = runningOf('older');
    log.length = 0;

    proxy.setActivity('wanted', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    await reconciler.reconcile('wanted');

    // 3 × 64Mi > 160Mi: one has to go, the one used longest ago, and its route loses it before it stops.
    expect(log.slice(0, 2)).toEqual(['deploy older []', `stop ${olderId}`]);
    expect(runningOf('older')).toEqual([]);
    expect(runningOf('newer')).toHaveLength(1);
    expect(runningOf('wanted')).toHaveLength(1);
    expect(store.get('Project', 'wanted')?.status?.phase).toBe('Running');
    const evicted = events.find((event) => event.reason === 'ContainerEvicted');
    expect(evicted?.object).toEqual({ kind: 'Project', name: 'older' });
    expect(evicted?.message).toMatch(/stopped to make room for Project\/wanted \(64Mi; the host allows 160Mi/);

    // Its own reconcile (Docker's stop event) must not start it again on its recent activity alone.
    await reconciler.reconcile('older');
    expect(runningOf('older')).toEqual([]);
    expect(store.get('Project', 'older')?.status?.phase).toBe('Idle');
    // A request does: then the idle instance used longest ago (`newer`) makes room.
    proxy.setActivity('wanted', { inFlight: 0, waiting: 0, lastActivityAt: NOW + 1 });
    proxy.setActivity('older', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    await reconciler.reconcile('older');
    expect(runningOf('older')).toHaveLength(1);
    expect(runningOf('newer')).toEqual([]);
    expect(runningOf('wanted')).toHaveLength(1);
  });

  it('holds the start and says why when every instance is busy, then starts once one is idle', async () => {
    const reconciler = reconcilerWith(100);
    await project('busy');
    await project('wanted');
    await startThenQuiet(reconciler, 'busy');
    proxy.setActivity('busy', { inFlight: 1, waiting: 0, lastActivityAt: NOW });
    log.length = 0;

    proxy.setActivity('wanted', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    const result = await reconciler.reconcile('wanted');

    expect(result).toEqual({ requeueAfterMs: ADMISSION_RETRY_MS });
    expect(runningOf('busy')).toHaveLength(1);
    expect(runningOf('wanted')).toEqual([]);
    // Held, not answered: no unavailableReason, so the request waits for the next try.
    expect(proxy.lastDeploy('wanted')).toMatchObject({ targets: [] });
    expect(proxy.lastDeploy('wanted')?.unavailableReason).toBeUndefined();
    const wanted = store.get('Project', 'wanted');
    expect(wanted?.status?.phase).toBe('Starting');
    const ready = findCondition(wanted?.status?.conditions, 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InsufficientMemory' });
    expect(ready?.message).toContain('not enough memory to start Project/wanted');
    expect(ready?.message).toContain('busy: Project/busy');
    expect(events.some((event) => event.reason === 'InsufficientMemory' && event.object.name === 'wanted')).toBe(true);

    // Its request finished: the next try stops it and starts the held project.
    proxy.setActivity('busy', { inFlight: 0, waiting: 0, lastActivityAt: NOW });
    await reconciler.reconcile('wanted');
    expect(runningOf('busy')).toEqual([]);
    expect(runningOf('wanted')).toHaveLength(1);
  });

  it('never stops an instance that minInstances keeps', async () => {
    const reconciler = reconcilerWith(100);
    await project('kept', { scaling: { minInstances: 1 } });
    await project('wanted');
    await reconciler.reconcile('kept');
    expect(runningOf('kept')).toHaveLength(1);

    proxy.setActivity('wanted', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    expect(await reconciler.reconcile('wanted')).toEqual({ requeueAfterMs: ADMISSION_RETRY_MS });
    expect(runningOf('kept')).toHaveLength(1);
    expect(runningOf('wanted')).toEqual([]);
  });

  it('counts a container without a declared limit as unlimitedContainerMemory', async () => {
    const reconciler = reconcilerWith(600, 512);
    await project('unlimited', { resources: {} });
    await project('wanted');
    await startThenQuiet(reconciler, 'unlimited');
    expect(runtime.containers.get(runningOf('unlimited')[0] ?? '')?.memoryBytes).toBeUndefined();

    proxy.setActivity('wanted', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    await reconciler.reconcile('wanted');
    // 512Mi + 64Mi ≤ 600Mi: both run.
    expect(runningOf('unlimited')).toHaveLength(1);
    expect(runningOf('wanted')).toHaveLength(1);
  });

  it('refuses a start larger than the whole limit without stopping anything', async () => {
    const reconciler = reconcilerWith(100);
    await project('small');
    await project('huge', { resources: { memory: '128Mi' } });
    await startThenQuiet(reconciler, 'small');

    proxy.setActivity('huge', { inFlight: 0, waiting: 1, lastActivityAt: NOW });
    await reconciler.reconcile('huge');
    expect(runningOf('small')).toHaveLength(1);
    expect(findCondition(store.get('Project', 'huge')?.status?.conditions, 'Ready')?.message).toContain(
      'it needs 128Mi of memory, more than the host allows in all (100Mi)',
    );
  });
});
