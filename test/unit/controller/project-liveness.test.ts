import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LivenessMonitor } from '../../../src/controller/liveness-monitor.js';
import { LIVENESS_FAILED, onLivenessFailure } from '../../../src/controller/liveness-replacement.js';
import { containerSpecHash, ProjectReconciler } from '../../../src/controller/project-reconciler.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { NO_CONTROLLER_METRICS } from '../../../src/metrics/controller-metrics.js';
import { resolveProjectSettings } from '../../../src/model/project-settings.js';
import { API_VERSION, type ProjectObject, type ProjectSpec } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import type { LivenessProber } from '../../../src/util/liveness-probe.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeClock, promptClock } from '../../support/fakes/fake-clock.js';
import { FakeProber } from '../../support/fakes/fake-prober.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// The project reconciler with a liveness monitor: an instance that fails its check is
// taken out of the route before its replacement starts, replaced, then stopped and
// removed, with an event and a metric that name it and the last error. The monitor runs
// on a FakeClock and an injected prober: no sockets, no real waits.

const NAME = 'web';
const IMAGE = 'hello:latest';
const SPEC: ProjectSpec = {
  image: IMAGE,
  hostnames: ['web.localhost'],
  scaling: { minInstances: 2, maxInstances: 2 },
  liveness: { httpGet: { path: '/healthz' }, periodSeconds: 1, failureThreshold: 2 },
};
const HASH = containerSpecHash(resolveProjectSettings(SPEC));

let stateDir: string;
let store: FileStore;
let runtime: FakeRuntime;
let proxy: FakeProxy;
let clock: FakeClock;
let log: string[];
let errors: Map<number, string>;
let events: MemoryEventLog;
let livenessFailures: string[];
let queued: string[];
let monitor: LivenessMonitor;
let reconciler: ProjectReconciler;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-liveness-'));
  store = await FileStore.open(stateDir);
  log = [];
  runtime = new FakeRuntime({ images: [IMAGE], hostPort: 5003, log });
  proxy = new FakeProxy(log);
  clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  errors = new Map();
  const probe: LivenessProber = async (_host, port) => {
    const error = errors.get(port);
    if (error) throw new Error(error);
  };
  events = new MemoryEventLog({ now: () => clock.now() });
  livenessFailures = [];
  queued = [];
  const metrics = {
    ...NO_CONTROLLER_METRICS,
    livenessFailed: (project: string) => void livenessFailures.push(project),
  };
  const recorder = events.recorder('controller');
  const onFailure = onLivenessFailure(recorder, metrics, silentLogger(), (project) => void queued.push(project));
  monitor = new LivenessMonitor({ clock, probe, onFailure });
  reconciler = new ProjectReconciler({
    store,
    runtime,
    proxy,
    logger: silentLogger(),
    now: () => clock.now(),
    publicUrl: (host) => `http://${host}:8080`,
    probe: new FakeProber().probe,
    clock: promptClock(() => clock.now()),
    events: recorder,
    metrics,
    liveness: monitor,
  });
});

afterEach(async () => {
  monitor.stop();
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function applyWithTwoInstances(): Promise<void> {
  const object: ProjectObject = { apiVersion: API_VERSION, kind: 'Project', metadata: { name: NAME }, spec: SPEC };
  const { object: stored } = await store.apply(object);
  const owner = { kind: 'Project' as const, name: NAME, uid: stored.metadata.uid ?? '' };
  runtime.seed({ id: 'a', owner, specHash: HASH, state: 'running', hostPort: 5001 });
  runtime.seed({ id: 'b', owner, specHash: HASH, state: 'running', hostPort: 5002 });
  await reconciler.reconcile(NAME);
  expect(proxy.lastDeploy(NAME)?.targets).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
  expect(monitor.watching()).toBe(2);
  log.length = 0;
}

describe('liveness in the project reconciler', () => {
  it('takes a failing instance out of the route at once, replaces it, then stops and removes it', async () => {
    await applyWithTwoInstances();
    errors.set(5001, 'HTTP 500');
    await clock.advance(999);
    expect(queued).toEqual([]); // one failure: below the threshold
    await clock.advance(1);
    expect(queued).toEqual([NAME]);

    await reconciler.reconcile(NAME);
    const created = runtime.calls.find((call) => call.op === 'create')?.id ?? '';
    expect(log).toEqual([
      'deploy web [127.0.0.1:5002]', // out of rotation before anything starts
      `create ${created}`,
      `start ${created}`,
      'deploy web [127.0.0.1:5003,127.0.0.1:5002]',
      'stop a',
      'remove a',
    ]);
    expect(runtime.containers.has('a')).toBe(false);
    expect(monitor.failureOf('a')).toBeUndefined();
    expect(monitor.watching()).toBe(2);
  });

  it('says which instance failed and why, in an event and a metric', async () => {
    await applyWithTwoInstances();
    errors.set(5001, 'connect ECONNREFUSED 127.0.0.1:5001');
    await clock.advance(1_000);
    const [event] = events.list({ kind: 'Project', name: NAME }).filter((e) => e.reason === LIVENESS_FAILED);
    expect(event?.type).toBe('Warning');
    expect(event?.message).toBe(
      'container luma-test-web-a failed its liveness check 2 times in a row (last: connect ECONNREFUSED 127.0.0.1:5001); taking it out of rotation and replacing it',
    );
    expect(livenessFailures).toEqual([NAME]);
  });

  it('changes nothing on a second reconcile after the replacement', async () => {
    await applyWithTwoInstances();
    errors.set(5001, 'HTTP 500');
    await clock.advance(1_000);
    await reconciler.reconcile(NAME);
    const deploys = proxy.deploys.length;
    log.length = 0;
    await reconciler.reconcile(NAME);
    expect(log.filter((line) => !line.startsWith('deploy'))).toEqual([]);
    expect(proxy.deploys.slice(deploys).every((d) => d.targets.join() === '127.0.0.1:5003,127.0.0.1:5002')).toBe(true);
  });

  it('leaves healthy instances alone, and checks nothing once the project drops liveness', async () => {
    await applyWithTwoInstances();
    await clock.advance(10_000);
    expect(queued).toEqual([]);
    const { liveness: _dropped, ...withoutLiveness } = SPEC;
    await store.apply({ apiVersion: API_VERSION, kind: 'Project', metadata: { name: NAME }, spec: withoutLiveness });
    await reconciler.reconcile(NAME);
    expect(runtime.calls.filter((call) => call.op !== 'create')).toEqual([]);
    expect(monitor.watching()).toBe(0);
  });
});
