import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { containerSpecHash, ProjectReconciler } from '../../../src/controller/project-reconciler.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { NO_CONTROLLER_METRICS, type ControllerMetrics } from '../../../src/metrics/controller-metrics.js';
import { resolveProjectSettings } from '../../../src/model/project-settings.js';
import { API_VERSION, type ProjectSpec } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// What the project reconciler tells its metrics and its event log for each idle tier:
// the cold start and its phases, scale events, and the container lifecycle that webhooks
// send. Fakes for Docker and the proxy; readiness is probed against a real loopback server.

const NAME = 'web';
const IMAGE = 'hello:latest';
const NOW = Date.parse('2025-01-01T00:00:00.000Z');
const SPEC: ProjectSpec = {
  image: IMAGE,
  hostnames: ['web.localhost'],
  scaling: { pauseAfter: '10s', idleTimeout: '60s' },
};
const HASH = containerSpecHash(resolveProjectSettings(SPEC));

let readyPort: number;
let server: http.Server;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  readyPort = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface World {
  store: FileStore;
  runtime: FakeRuntime;
  proxy: FakeProxy;
  reconciler: ProjectReconciler;
  clock: { now: number };
  calls: string[];
  events: MemoryEventLog;
  uid: string;
}

let stateDir: string;
let world: World;

/** Records calls as `name project tier phase` (durations left out: the clock is the test's). */
function recordingMetrics(calls: string[]): ControllerMetrics {
  return {
    ...NO_CONTROLLER_METRICS,
    coldStartPhase: (project, tier, phase) => calls.push(`phase ${project} ${tier} ${phase}`),
    coldStart: (project, tier) => calls.push(`coldStart ${project} ${tier}`),
    scaled: (project, direction, instances) => {
      if (instances > 0) calls.push(`scaled ${project} ${direction} ${instances}`);
    },
  };
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-reconciler-metrics-'));
  const store = await FileStore.open(stateDir);
  const runtime = new FakeRuntime({ images: [IMAGE], hostPort: readyPort, log: [] });
  const proxy = new FakeProxy([]);
  const clock = { now: NOW };
  const calls: string[] = [];
  const events = new MemoryEventLog({ now: () => clock.now });
  const reconciler = new ProjectReconciler({
    store,
    runtime,
    proxy,
    logger: silentLogger(),
    now: () => clock.now,
    publicUrl: (host) => `http://${host}/`,
    metrics: recordingMetrics(calls),
    events: events.recorder('controller'),
  });
  const { object } = await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: NAME },
    spec: SPEC,
  });
  world = { store, runtime, proxy, reconciler, clock, calls, events, uid: object.metadata.uid ?? '' };
});

afterEach(async () => {
  await world.store.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** The container lifecycle events (a first reconcile also records the project's first revision). */
function reasons(): string[] {
  return world.events
    .list()
    .map((event) => event.reason)
    .filter((reason) => reason.startsWith('Container'));
}

function requestHeld(): void {
  world.proxy.setActivity(NAME, { waiting: 1, inFlight: 0, lastActivityAt: world.clock.now });
}

describe('cold start metrics and lifecycle events by tier', () => {
  it('fresh: image ready, create, start and readiness are timed; created, started and ready are recorded', async () => {
    requestHeld();
    await world.reconciler.reconcile(NAME);

    expect(world.calls).toEqual([
      'phase web fresh image_ready',
      'phase web fresh create',
      'phase web fresh start',
      'phase web fresh readiness',
      'coldStart web fresh',
      'scaled web up 1',
    ]);
    expect(reasons()).toEqual(['ContainerCreated', 'ContainerStarted', 'ContainerReady']);
  });

  it('stopped: start and readiness are timed; no container is created', async () => {
    world.runtime.seed({
      id: 'old',
      owner: { kind: 'Project', name: NAME, uid: world.uid },
      specHash: HASH,
      state: 'exited',
      hostPort: readyPort,
    });
    requestHeld();
    await world.reconciler.reconcile(NAME);

    expect(world.calls).toEqual([
      'phase web stopped start',
      'phase web stopped readiness',
      'coldStart web stopped',
      'scaled web up 1',
    ]);
    expect(reasons()).toEqual(['ContainerStarted', 'ContainerReady']);
  });

  it('paused, through the wake fast path: the thaw is timed; paused, started and ready are recorded; an idle stop scales down', async () => {
    world.runtime.seed({
      id: 'run1',
      owner: { kind: 'Project', name: NAME, uid: world.uid },
      specHash: HASH,
      state: 'running',
      hostPort: readyPort,
    });
    world.proxy.setActivity(NAME, { waiting: 0, inFlight: 0, lastActivityAt: NOW - 1_000 });
    await world.reconciler.reconcile(NAME); // adopted and probed: not a cold start
    world.clock.now = NOW + 10_001;
    await world.reconciler.reconcile(NAME); // paused at pauseAfter
    expect(world.calls).toEqual(['scaled web down 1']);

    world.calls.length = 0;
    requestHeld();
    expect(await world.reconciler.resumePaused(NAME)).toBe(true);
    expect(world.calls).toEqual(['phase web paused start', 'coldStart web paused', 'scaled web up 1']);
    expect(reasons()).toEqual(['ContainerPaused', 'ContainerStarted', 'ContainerReady']);

    world.calls.length = 0;
    world.proxy.setActivity(NAME, { waiting: 0, inFlight: 0, lastActivityAt: world.clock.now });
    world.clock.now += 60_001;
    await world.reconciler.reconcile(NAME);
    expect(world.calls).toEqual(['scaled web down 1']);
    expect(reasons().at(-1)).toBe('ContainerStopped');
  });
});

describe('the request id of a wake', () => {
  it("is named in the cold start's log line, once", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const reconciler = new ProjectReconciler({
      store: world.store,
      runtime: world.runtime,
      proxy: world.proxy,
      logger,
      now: () => world.clock.now,
      publicUrl: (host) => `http://${host}/`,
    });
    requestHeld();
    reconciler.noteWake(NAME, 'req-123');
    await reconciler.reconcile(NAME);

    expect(lines.find((line) => line.msg === 'instance ready')).toMatchObject({
      project: NAME,
      tier: 'fresh',
      requestId: 'req-123',
    });
    await world.runtime.stop([...world.runtime.containers.keys()][0] ?? '', 0);
    // Stopped behind Luma's back counts as a crash: the restart waits out its 1 s backoff.
    await reconciler.reconcile(NAME);
    world.clock.now += 1_001;
    await reconciler.reconcile(NAME);
    const ready = lines.filter((line) => line.msg === 'instance ready');
    expect(ready).toHaveLength(2);
    expect(ready[1]).toMatchObject({ tier: 'stopped' });
    expect(ready[1]?.requestId).toBeUndefined();
  });
});
