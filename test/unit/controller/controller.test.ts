import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Controller } from '../../../src/controller/controller.js';
import { containerSpecHash, PROJECT_FINALIZER } from '../../../src/controller/project-reconciler.js';
import { DEFAULT_ARCHIVE_LIMITS } from '../../../src/images/archive.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { resolveProjectSettings } from '../../../src/model/project-settings.js';
import { API_VERSION, type ProjectSpec } from '../../../src/model/types.js';
import type { ImageInfo, ImageRuntime } from '../../../src/runtime/runtime.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { startReadyApp, type ReadyApp } from '../../support/fakes/ready-app.js';

// The controller's wiring of the proxy's wake: a paused project is thawed by the fast path
// and confirmed by a reconcile a little later; anything else is reconciled at once.

const NAME = 'web';
const IMAGE = 'hello:latest';
/** Long enough that a reconcile seen within a test did not come from a deferred confirmation. */
const NEVER_MS = 600_000;

class FakeEngine extends FakeRuntime implements ImageRuntime {
  async build(): Promise<void> {
    throw new Error('no builds in these tests');
  }
  async pull(): Promise<void> {
    throw new Error('no pulls in these tests');
  }
  async listBuilt(): Promise<ImageInfo[]> {
    return [];
  }
  async removeImage(): Promise<void> {}
}

let appPort: number;
let readyApp: ReadyApp;
let stateDir: string;
let controller: Controller | undefined;
let store: FileStore | undefined;

beforeAll(async () => {
  readyApp = await startReadyApp();
  appPort = readyApp.port;
});

afterAll(async () => {
  await readyApp.close();
});

afterEach(async () => {
  await controller?.stop();
  await store?.close();
  controller = undefined;
  store = undefined;
  await rm(stateDir, { recursive: true, force: true });
});

async function startWith(
  spec: ProjectSpec,
  resumeConfirmDelayMs: number,
  proxy = new FakeProxy(),
): Promise<{ runtime: FakeEngine; proxy: FakeProxy; store: FileStore }> {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-controller-'));
  store = await FileStore.open(path.join(stateDir, 'state'), { initialFinalizers: { Project: [PROJECT_FINALIZER] } });
  const { object } = await store.apply({ apiVersion: API_VERSION, kind: 'Project', metadata: { name: NAME }, spec });
  const runtime = new FakeEngine({ images: [IMAGE], hostPort: appPort });
  runtime.seed({
    id: 'run1',
    owner: { kind: 'Project', name: NAME, uid: object.metadata.uid ?? '' },
    specHash: containerSpecHash(resolveProjectSettings(spec)),
    state: 'running',
    hostPort: appPort,
  });
  controller = new Controller({
    store,
    runtime,
    proxy,
    contexts: new ContextStore(path.join(stateDir, 'contexts'), DEFAULT_ARCHIVE_LIMITS),
    logs: new LogHub(),
    instance: 'test',
    logger: silentLogger(),
    publicUrl: (host) => `http://${host}`,
    resyncIntervalMs: NEVER_MS,
    resumeConfirmDelayMs,
    policy: DEFAULT_SETTINGS,
    ledger: { append: async () => true },
  });
  await controller.start();
  return { runtime, proxy, store };
}

/** Started, adopted, then paused by the controller itself once pauseAfter passed. */
async function pausedProject(
  resumeConfirmDelayMs: number,
): Promise<{ runtime: FakeEngine; proxy: FakeProxy; store: FileStore }> {
  const world = await startWith(
    { image: IMAGE, hostnames: ['web.localhost'], scaling: { pauseAfter: '50ms', idleTimeout: '60s' } },
    resumeConfirmDelayMs,
  );
  await vi.waitFor(() => expect(world.store.get('Project', NAME)?.status?.instances?.paused).toBe(1), {
    timeout: 5_000,
  });
  world.runtime.resetCalls();
  world.proxy.resetCalls();
  world.proxy.setActivity(NAME, { waiting: 1, inFlight: 0, lastActivityAt: Date.now() });
  return world;
}

describe('Controller.start', () => {
  const spec: ProjectSpec = { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } };

  it('routes a stored project before its first reconcile, with no target yet, so that its first request is held (not answered 404)', async () => {
    const { proxy } = await startWith(spec, NEVER_MS);
    expect(proxy.deploys[0]).toMatchObject({ service: NAME, hosts: ['web.localhost'], targets: [] });
    // Then its reconcile adopts the running container and routes to it.
    await vi.waitFor(() => expect(proxy.lastDeploy(NAME)?.targets).toEqual([`127.0.0.1:${appPort}`]));
  });

  it('keeps a route the proxy already has (a proxy that outlived the controller)', async () => {
    const proxy = new FakeProxy();
    proxy.seed({ service: NAME, hosts: ['web.localhost'], targets: [`127.0.0.1:${appPort}`] });
    await startWith(spec, NEVER_MS, proxy);
    await vi.waitFor(() => expect(proxy.deploys.length).toBeGreaterThan(0));
    expect(proxy.deploys.every((request) => request.targets.length > 0)).toBe(true);
  });
});

describe('Controller.wake', () => {
  it('thaws a paused project and routes it without listing containers; the confirming reconcile is deferred', async () => {
    const { runtime, proxy, store } = await pausedProject(NEVER_MS);

    controller!.wake(NAME);
    await vi.waitFor(() => expect(proxy.lastDeploy(NAME)?.targets).toEqual([`127.0.0.1:${appPort}`]));
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(runtime.calls).toEqual([{ op: 'resume', id: 'run1', resumed: true }]);
    expect(runtime.listCalls).toBe(0);
    expect(store.get('Project', NAME)?.status?.instances?.paused).toBe(1); // not confirmed yet
  });

  it('a reconcile confirms the resume: Running, with no start, create or second thaw', async () => {
    const { runtime, store } = await pausedProject(1);

    controller!.wake(NAME);
    await vi.waitFor(() => expect(store.get('Project', NAME)?.status?.phase).toBe('Running'), { timeout: 5_000 });

    expect(runtime.listCalls).toBeGreaterThan(0);
    expect(runtime.calls).toEqual([{ op: 'resume', id: 'run1', resumed: true }]);
    expect(store.get('Project', NAME)?.status?.instances).toMatchObject({ running: 1, paused: 0 });
  });

  it('reconciles at once when nothing is paused (a stopped project is started)', async () => {
    const { runtime, proxy } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '50ms' } },
      NEVER_MS,
    );
    await vi.waitFor(() => expect(runtime.containers.get('run1')?.state).toBe('exited'), { timeout: 5_000 });
    runtime.resetCalls();
    proxy.setActivity(NAME, { waiting: 1, inFlight: 0, lastActivityAt: Date.now() });

    controller!.wake(NAME);
    await vi.waitFor(() => expect(proxy.lastDeploy(NAME)?.targets).toEqual([`127.0.0.1:${appPort}`]), {
      timeout: 5_000,
    });
    expect(runtime.calls.map((call) => call.op)).toEqual(['start']);
  });
});

describe('Controller.certificateChanged', () => {
  it('reconciles the project, which writes the proxy’s certificate report into CertificateReady', async () => {
    const { proxy, store } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { minInstances: 1 }, tls: true },
      NEVER_MS,
    );
    await vi.waitFor(() => expect(store.get('Project', NAME)?.status?.phase).toBe('Running'), { timeout: 5_000 });
    proxy.certificates.set(NAME, [
      { host: 'web.localhost', state: 'Failed', reason: 'AcmeRefused', message: 'refused' },
    ]);

    controller!.certificateChanged(NAME);
    await vi.waitFor(
      () =>
        expect(
          store.get('Project', NAME)?.status?.conditions?.find((condition) => condition.type === 'CertificateReady')
            ?.reason,
        ).toBe('AcmeRefused'),
      { timeout: 5_000 },
    );
  });
});

describe('Controller.resync', () => {
  /** Every project's reconcile wrote the status of its current generation (a reconcile may still run when none is queued). */
  function converged(): void {
    for (const project of store!.list('Project'))
      expect(project.status?.observedGeneration).toBe(project.metadata.generation);
  }

  /** Waits until nothing is queued, every project converged, and one more list shows no reconcile ran meanwhile. */
  async function settled(runtime: FakeEngine): Promise<void> {
    await vi.waitFor(() => expect(controller!.queueDepth()).toBe(0), { timeout: 5_000 });
    await vi.waitFor(converged, { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    runtime.resetCalls();
  }

  it('one container list serves a resync of idle owners; nothing is reconciled when nothing changed', async () => {
    const { runtime } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } },
      NEVER_MS,
    );
    await store!.apply({
      apiVersion: API_VERSION,
      kind: 'Project',
      metadata: { name: 'other' },
      spec: { image: IMAGE, hostnames: ['other.localhost'] },
    });
    await settled(runtime);
    await controller!.resync({ full: false });
    await settled(runtime);

    await controller!.resync({ full: false });
    await controller!.resync({ full: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runtime.listCalls).toBe(2);
    expect(runtime.calls).toEqual([]);
  });

  it('does not reconcile again, at the next resync, objects the watch announced since the last one', async () => {
    const { runtime } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } },
      NEVER_MS,
    );
    await settled(runtime);
    // Applied after the last resync: the store's watch reconciles them, the resync need not.
    for (const name of ['one', 'two', 'three']) {
      await store!.apply({
        apiVersion: API_VERSION,
        kind: 'Project',
        metadata: { name },
        spec: { image: IMAGE, hostnames: [`${name}.localhost`] },
      });
    }
    await settled(runtime);

    await controller!.resync({ full: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runtime.listCalls).toBe(1);
  });

  it('lists no containers for a new project without a pool; one with a pool gets its pool reconciled too', async () => {
    const { runtime } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } },
      NEVER_MS,
    );
    await settled(runtime);
    async function applied(name: string, pool?: { size: number }): Promise<number> {
      runtime.resetCalls();
      await store!.apply({
        apiVersion: API_VERSION,
        kind: 'Project',
        metadata: { name },
        spec: { image: IMAGE, hostnames: [`${name}.localhost`], ...(pool ? { pool } : {}) },
      });
      await vi.waitFor(() => expect(controller!.queueDepth()).toBe(0), { timeout: 5_000 });
      await vi.waitFor(converged, { timeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return runtime.listCalls;
    }
    // A new project reads the last resync's list (issue 18): no call of its own.
    expect(await applied('plain')).toBe(0);
    expect(runtime.calls.filter((call) => call.op === 'create')).toEqual([]);
    await applied('pooled', { size: 1 });
    expect(runtime.calls.filter((call) => call.op === 'create').map((call) => call.spec.role)).toEqual(['pool']);
  });

  it('reconciles the owner whose container changed behind its back (a removal whose event was missed)', async () => {
    const { runtime, proxy } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { minInstances: 1, idleTimeout: '60s' } },
      NEVER_MS,
    );
    await settled(runtime);
    await controller!.resync({ full: false });
    await settled(runtime);

    runtime.containers.delete('run1');
    await controller!.resync({ full: false });
    await vi.waitFor(() => expect(runtime.calls.map((call) => call.op)).toContain('create'), { timeout: 5_000 });
    await vi.waitFor(() => expect(proxy.lastDeploy(NAME)?.targets).toHaveLength(1), { timeout: 5_000 });
  });

  it('a full resync reconciles every owner, changed or not', async () => {
    const { runtime, proxy } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } },
      NEVER_MS,
    );
    await settled(runtime);
    await controller!.resync({ full: false });
    await settled(runtime);

    // The owner's reconcile reads the resync's one list (a Docker call each would grow
    // with the number of projects): its route is deployed again, with no list of its own.
    proxy.resetCalls();
    await controller!.resync({ full: true });
    await vi.waitFor(() => expect(proxy.lastDeploy(NAME)?.targets).toEqual([`127.0.0.1:${appPort}`]), {
      timeout: 5_000,
    });
    expect(runtime.listCalls).toBe(1);
  });

  it("wakes a project's leases when the project is deleted: an Active lease ends at once, not at its expiry", async () => {
    const { runtime } = await startWith(
      { image: IMAGE, hostnames: ['web.localhost'], scaling: { idleTimeout: '60s' } },
      NEVER_MS,
    );
    const { object } = await store!.apply({
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'l1' },
      spec: { project: NAME, ttl: '10m' },
    });
    const now = Date.now();
    const started = new Date(now).toISOString();
    await store!.updateStatus('Lease', 'l1', {
      phase: 'Active',
      admittedAt: started,
      startedAt: started,
      expiresAt: new Date(now + 600_000).toISOString(),
    });
    runtime.seed({
      id: 'lease1',
      owner: { kind: 'Lease', name: 'l1', uid: object.metadata.uid ?? '' },
      specHash: 'h',
      state: 'running',
      hostPort: appPort,
    });
    await settled(runtime);
    expect(store!.get('Lease', 'l1')?.status?.phase).toBe('Active');

    await store!.delete('Project', NAME);
    // No resync runs in these tests (NEVER_MS): only the project's watch event can wake it.
    await vi.waitFor(
      () => expect(store!.get('Lease', 'l1')?.status).toMatchObject({ phase: 'Failed', endReason: 'Failed' }),
      { timeout: 5_000 },
    );
    expect(runtime.containers.has('lease1')).toBe(false);
  });
});
