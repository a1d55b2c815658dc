import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { Controller } from '../../../src/controller/controller.js';
import { containerSpecHash, PROJECT_FINALIZER } from '../../../src/controller/project-reconciler.js';
import { DEFAULT_ARCHIVE_LIMITS } from '../../../src/images/archive.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { NO_CONTROLLER_METRICS } from '../../../src/metrics/controller-metrics.js';
import { resolveProjectSettings } from '../../../src/model/project-settings.js';
import { API_VERSION, type ProjectObject, type ProjectSpec } from '../../../src/model/types.js';
import type { ImageInfo, ImageRuntime } from '../../../src/runtime/runtime.js';
import { FileStore, OBJECTS_DIR } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// Issue 18: the Docker calls of a full resync (every 30th, and whenever the proxy or the
// engine comes back) do not grow with the number of projects. Each reconcile the resync
// queues reads its containers from the resync's one list instead of asking the engine.

const IMAGE = 'hello:latest';
const NEVER_MS = 600_000;
const SPEC: ProjectSpec = { image: IMAGE, hostnames: [], scaling: { idleTimeout: '60s' } };

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

interface World {
  controller: Controller;
  store: FileStore;
  runtime: FakeEngine;
  /** Reconciles run, by kind (Project, Pool, ...). */
  reconciles: Map<string, number>;
}

const worlds: World[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.controller.stop();
    await world.store.close();
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * `count` stored projects scaled to zero, each with a stopped container kept for a fast
 * restart. The objects are written as the store lays them out, without a write (and an
 * fsync) each: 1,000 of them load in milliseconds.
 */
async function storedProjects(stateDir: string, count: number): Promise<ProjectObject[]> {
  const dir = path.join(stateDir, OBJECTS_DIR, 'project');
  await mkdir(dir, { recursive: true });
  const projects: ProjectObject[] = [];
  for (let index = 0; index < count; index += 1) {
    const name = `p${index}`;
    const project: ProjectObject = {
      apiVersion: API_VERSION,
      kind: 'Project',
      metadata: {
        name,
        uid: `uid-${name}`,
        generation: 1,
        resourceVersion: String(index + 1),
        creationTimestamp: new Date(0).toISOString(),
        finalizers: [PROJECT_FINALIZER],
      },
      spec: { ...SPEC, hostnames: [`${name}.localhost`] },
    };
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify(project));
    projects.push(project);
  }
  return projects;
}

/**
 * In memory where the machine has it: the 1,000 projects' status writes each end in an
 * fsync, which on a disk made this one test take 20 s of the unit suite; what it counts
 * (Docker calls) does not depend on where the store writes.
 */
async function scratchDir(): Promise<string> {
  const memory = '/dev/shm';
  const base = (await stat(memory).catch(() => undefined))?.isDirectory() ? memory : tmpdir();
  return mkdtemp(path.join(base, 'luma-resync-'));
}

async function startWith(count: number): Promise<World> {
  const stateDir = await scratchDir();
  dirs.push(stateDir);
  const projects = await storedProjects(path.join(stateDir, 'state'), count);
  const store = await FileStore.open(path.join(stateDir, 'state'), {
    initialFinalizers: { Project: [PROJECT_FINALIZER] },
  });
  const runtime = new FakeEngine({ images: [IMAGE] });
  const hash = containerSpecHash(resolveProjectSettings(SPEC));
  for (const project of projects) {
    const { name, uid } = project.metadata;
    runtime.seed({ owner: { kind: 'Project', name, uid: uid ?? '' }, specHash: hash, state: 'exited' });
  }
  const reconciles = new Map<string, number>();
  const controller = new Controller({
    store,
    runtime,
    proxy: new FakeProxy(),
    contexts: new ContextStore(path.join(stateDir, 'contexts'), DEFAULT_ARCHIVE_LIMITS),
    logs: new LogHub(),
    instance: 'test',
    logger: silentLogger(),
    publicUrl: (host) => `http://${host}`,
    resyncIntervalMs: NEVER_MS,
    policy: DEFAULT_SETTINGS,
    ledger: { append: async () => true },
    metrics: {
      ...NO_CONTROLLER_METRICS,
      reconciled: (kind) => reconciles.set(kind, (reconciles.get(kind) ?? 0) + 1),
    },
  });
  const world = { controller, store, runtime, reconciles };
  worlds.push(world);
  await controller.start();
  await settled(world, count);
  return world;
}

/** Every project converged on its generation and nothing is queued. */
async function settled({ controller, store }: World, count: number): Promise<void> {
  await vi.waitFor(
    () => {
      expect(controller.queueDepth()).toBe(0);
      const projects = store.list('Project');
      expect(projects).toHaveLength(count);
      for (const project of projects) expect(project.status?.observedGeneration).toBe(1);
    },
    { timeout: 240_000, interval: 50 },
  );
}

/** Runs a full resync and waits until each project and its pool was reconciled once. */
async function fullResync(world: World, count: number): Promise<{ lists: number; changes: number }> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  world.runtime.resetCalls();
  world.reconciles.clear();
  await world.controller.resync({ full: true });
  await vi.waitFor(
    () => {
      expect(world.reconciles.get('Project')).toBe(count);
      expect(world.reconciles.get('Pool')).toBe(count);
      expect(world.controller.queueDepth()).toBe(0);
    },
    { timeout: 240_000, interval: 50 },
  );
  return { lists: world.runtime.listCalls, changes: world.runtime.calls.length };
}

describe('a full resync', () => {
  it('makes as many Docker calls for 1,000 projects as for 10: one container list', async () => {
    const few = await fullResync(await startWith(10), 10);
    const many = await fullResync(await startWith(1_000), 1_000);
    expect(few).toEqual({ lists: 1, changes: 0 });
    expect(many).toEqual(few);
  }, 600_000);

  it('still asks the engine for an owner whose containers changed after the list (a Docker event)', async () => {
    const world = await startWith(3);
    world.runtime.resetCalls();
    world.reconciles.clear();
    // The event of a container of p1 arrives while the resync's reconciles wait in the queue.
    const listed = world.controller.resync({ full: true });
    world.runtime.emitChange({ kind: 'Project', name: 'p1', uid: 'uid-p1' }, 'die');
    await listed;
    await vi.waitFor(() => expect(world.reconciles.get('Project')).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    await settled(world, 3);
    // One list for the resync; only p1's reconciles asked the engine for themselves.
    const names = world.runtime.listFilters.map((filter) => filter.name ?? '(all)');
    expect(names.filter((name) => name === '(all)')).toHaveLength(1);
    expect(names).toContain('p1');
    expect(names).not.toContain('p0');
    expect(names).not.toContain('p2');
  });

  it('reconciles projects applied after it without a Docker call each', async () => {
    const world = await startWith(10);
    world.runtime.resetCalls();
    for (let index = 0; index < 50; index += 1)
      await world.store.apply({
        apiVersion: API_VERSION,
        kind: 'Project',
        metadata: { name: `new${index}` },
        spec: { ...SPEC, hostnames: [`new${index}.localhost`] },
      });
    await settled(world, 60);
    expect(world.runtime.listCalls).toBe(0);
  });
});
