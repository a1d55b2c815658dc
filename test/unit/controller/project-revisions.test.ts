import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectReconciler } from '../../../src/controller/project-reconciler.js';
import { API_VERSION, type ProjectObject, type ProjectSpec, type RevisionObject } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeProber } from '../../support/fakes/fake-prober.js';
import { promptClock } from '../../support/fakes/fake-clock.js';

// The project reconciler records a Revision whenever what runs changes, labels each
// instance with its revision, keeps the old revision's instance serving until the new one
// is ready, and keeps no more revisions than the history limit. Fakes stand in for Docker
// and the proxy; the store is the real file store in a temporary directory.

const NAME = 'web';
const IMAGE = 'hello:latest';
const OTHER_IMAGE = 'hello:v2';
const NOW = Date.parse('2025-01-01T00:00:00.000Z');
const PORT = 4321;
const BASE: ProjectSpec = { image: IMAGE, hostnames: ['web.localhost'] };

interface World {
  store: FileStore;
  runtime: FakeRuntime;
  proxy: FakeProxy;
  events: MemoryEventLog;
  reconciler: ProjectReconciler;
  log: string[];
}

let stateDir: string;
let world: World;

async function makeWorld(limit?: number): Promise<World> {
  const store = await FileStore.open(stateDir);
  const log: string[] = [];
  const runtime = new FakeRuntime({ images: [IMAGE, OTHER_IMAGE], hostPort: PORT, log });
  const proxy = new FakeProxy(log);
  const events = new MemoryEventLog();
  const reconciler = new ProjectReconciler({
    store,
    runtime,
    proxy,
    events: events.recorder('controller'),
    logger: silentLogger(),
    now: () => NOW,
    publicUrl: (host) => `http://${host}`,
    probe: new FakeProber().probe,
    clock: promptClock(() => NOW),
    ...(limit !== undefined ? { revisionHistoryLimit: limit } : {}),
  });
  return { store, runtime, proxy, events, reconciler, log };
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-revisions-'));
  world = await makeWorld();
});

afterEach(async () => {
  await world.store.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function apply(spec: ProjectSpec): Promise<void> {
  const object: ProjectObject = { apiVersion: API_VERSION, kind: 'Project', metadata: { name: NAME }, spec };
  await world.store.apply(object);
}

/** Traffic keeps one instance wanted. */
async function reconcileBusy(): Promise<void> {
  world.proxy.setActivity(NAME, { waiting: 0, inFlight: 1, lastActivityAt: NOW });
  await world.reconciler.reconcile(NAME);
}

function revisions(): RevisionObject[] {
  return world.store.list('Revision').sort((a, b) => a.spec.number - b.spec.number);
}

function names(): string[] {
  return revisions().map((revision) => revision.metadata.name);
}

describe('revisions of a project', () => {
  it('records revision 1 of what the project runs, with its image, template and label', async () => {
    await apply({ ...BASE, env: { A: '1' }, scaling: { maxInstances: 2 } });
    await reconcileBusy();
    const [first] = revisions();
    expect(first?.metadata.name).toBe('web-1');
    expect(first?.metadata.labels).toEqual({ project: NAME });
    expect(first?.spec).toMatchObject({ project: NAME, number: 1, image: IMAGE });
    expect(first?.spec.template).toEqual({ image: IMAGE, env: { A: '1' } });
    expect(first?.status).toMatchObject({ phase: 'Ready', readyAt: new Date(NOW).toISOString() });
    expect(world.store.get('Project', NAME)?.status?.revisions).toEqual({
      latestCreated: 'web-1',
      latestReady: 'web-1',
    });
    const [instance] = [...world.runtime.containers.values()];
    expect(instance?.revision).toBe('web-1');
    expect(world.events.list().map((event) => event.reason)).toContain('RevisionCreated');
  });

  it('makes none for a change that only routes or scales, nor on a second reconcile', async () => {
    await apply(BASE);
    await reconcileBusy();
    await apply({ ...BASE, hostnames: ['web.localhost', 'www.localhost'], scaling: { maxInstances: 3 }, tls: true });
    await reconcileBusy();
    await reconcileBusy();
    expect(names()).toEqual(['web-1']);
  });

  it('makes revision 2 for an env change; revision 1 serves until 2 is ready, then drains and goes', async () => {
    await apply(BASE);
    await reconcileBusy();
    const [old] = [...world.runtime.containers.keys()];
    await apply({ ...BASE, env: { A: '2' } });
    world.log.length = 0;
    await reconcileBusy();
    expect(names()).toEqual(['web-1', 'web-2']);
    const created = [...world.runtime.containers.values()].filter((container) => container.id !== old);
    expect(created.map((container) => container.revision)).toEqual(['web-2']);
    const fresh = created[0]?.id ?? '';
    // The new instance is created and ready before the route moves, and the old one is removed only after.
    expect(world.log).toEqual([`create ${fresh}`, `start ${fresh}`, `deploy web [127.0.0.1:${PORT}]`, `remove ${old}`]);
    expect(revisions().map((revision) => revision.status?.phase)).toEqual(['Retired', 'Ready']);
    expect(world.store.get('Project', NAME)?.status?.revisions).toEqual({
      latestCreated: 'web-2',
      latestReady: 'web-2',
    });
  });

  it('makes a revision for a readiness change, which keeps the spec hash, and replaces the instance', async () => {
    await apply(BASE);
    await reconcileBusy();
    const [old] = [...world.runtime.containers.keys()];
    await apply({ ...BASE, readiness: { httpGet: { path: '/healthz' } } });
    await reconcileBusy();
    expect(names()).toEqual(['web-1', 'web-2']);
    expect(world.runtime.containers.has(old ?? '')).toBe(false);
    expect([...world.runtime.containers.values()].map((container) => container.revision)).toEqual(['web-2']);
  });

  it('makes a revision when the image a project names resolves to another tag', async () => {
    await apply(BASE);
    await reconcileBusy();
    await apply({ ...BASE, image: OTHER_IMAGE });
    await reconcileBusy();
    expect(revisions().map((revision) => revision.spec.image)).toEqual([IMAGE, OTHER_IMAGE]);
  });

  it('adopts an instance made before revisions (no label) as the current revision', async () => {
    await apply(BASE);
    await reconcileBusy();
    const [instance] = [...world.runtime.containers.values()];
    world.runtime.containers.clear();
    const { revision: _revision, ...unlabelled } = instance ?? { revision: '' };
    world.runtime.seed({ ...(unlabelled as typeof instance & object), hostPort: PORT });
    world.log.length = 0;
    await reconcileBusy();
    expect(world.log).toEqual([`deploy web [127.0.0.1:${PORT}]`]);
  });

  it('keeps no more than the history limit, never the one that serves', async () => {
    await world.store.close();
    world = await makeWorld(2);
    for (const value of ['1', '2', '3', '4']) {
      await apply({ ...BASE, env: { A: value } });
      await reconcileBusy();
    }
    expect(names()).toEqual(['web-3', 'web-4']);
    // Numbers go on from the newest kept, after a restart too.
    await world.store.close();
    world = await makeWorld(2);
    await apply({ ...BASE, env: { A: '5' } });
    await reconcileBusy();
    expect(names()).toEqual(['web-4', 'web-5']);
  });

  it('finds the revision it recorded before a crash, rather than recording it twice', async () => {
    await apply(BASE);
    await reconcileBusy();
    // As if the controller died after the revision was stored but before the project's status said so.
    await world.store.mutateStatus('Project', NAME, (current) => ({ ...current.status, revisions: {} }));
    await reconcileBusy();
    expect(names()).toEqual(['web-1']);
  });

  it("removes a deleted project's revisions; one made again starts at 1", async () => {
    await apply({ ...BASE, env: { A: '1' } });
    await reconcileBusy();
    await apply({ ...BASE, env: { A: '2' } });
    await reconcileBusy();
    await world.store.delete('Project', NAME);
    await world.reconciler.reconcile(NAME);
    expect(world.store.has('Project', NAME)).toBe(false);
    expect(names()).toEqual([]);
    await apply(BASE);
    await reconcileBusy();
    expect(names()).toEqual(['web-1']);
  });

  it('replaces a revision left by an earlier project of the same name', async () => {
    const stale: RevisionObject = {
      apiVersion: API_VERSION,
      kind: 'Revision',
      metadata: { name: 'web-1' },
      spec: { project: NAME, projectUid: 'gone', number: 1, image: 'old:1', template: {} },
    };
    await world.store.apply(stale);
    await apply(BASE);
    await reconcileBusy();
    expect(revisions().map((revision) => revision.spec.image)).toEqual([IMAGE]);
    expect(revisions()[0]?.spec.projectUid).toBe(world.store.get('Project', NAME)?.metadata.uid);
  });
});
