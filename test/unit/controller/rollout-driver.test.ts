import { describe, expect, it } from 'vitest';
import { toCloudEvent } from '../../../src/events/cloudevents.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { buildProjectStatus } from '../../../src/controller/project-status.js';
import { RolloutDriver } from '../../../src/controller/rollout-driver.js';
import { API_VERSION, type ProjectObject, type RolloutStatus } from '../../../src/model/types.js';
import { BUILT_IN_PROJECT_SETTINGS } from '../../../src/model/project-settings.js';
import { LATENCY_BOUNDS_MS } from '../../../src/proxy/revision-outcomes.js';
import { ROLLOUT_UNDO_ANNOTATION } from '../../../src/model/rollout-undo.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';

// The rollout driver reads the candidate's counts from the proxy, and a rollback comes out
// as status.rollout, a Rollout condition, an event and a webhook naming the limit and figure.

const T0 = Date.parse('2026-12-07T12:00:00Z');

function counts(requests: number, errors: number): { requests: number; errors: number; latencyBuckets: number[] } {
  return { requests, errors, latencyBuckets: [requests, ...LATENCY_BOUNDS_MS.map(() => 0)] };
}

const STEP: RolloutStatus = {
  phase: 'Progressing',
  stable: 'web-1',
  candidate: 'web-2',
  step: 0,
  stepStartedAt: new Date(T0).toISOString(),
  baseline: counts(0, 0),
};

function project(rollout: RolloutStatus): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'web', uid: 'u1', generation: 2 },
    spec: {
      image: 'web:2',
      hostnames: ['web.localhost'],
      rollout: { steps: [{ percent: 20, durationSeconds: 60 }], limits: { maxErrorRate: 0.1, minRequests: 10 } },
    },
    status: { revisions: { latestCreated: 'web-2', latestReady: 'web-2' }, rollout },
  };
}

describe('RolloutDriver', () => {
  it('rolls back past a limit: status, condition, event and webhook say which limit and the figure', async () => {
    const proxy = new FakeProxy();
    proxy.outcomes.set('web-2', counts(20, 8));
    const log = new MemoryEventLog();
    const driver = new RolloutDriver({
      proxy,
      events: log.recorder('controller'),
      logger: silentLogger(),
      now: () => T0 + 5_000,
    });
    const started: RolloutStatus = {
      phase: 'Progressing',
      stable: 'web-1',
      candidate: 'web-2',
      step: 0,
      stepStartedAt: new Date(T0).toISOString(),
      baseline: counts(0, 0),
    };
    const web = project(started);
    const outcome = await driver.step(web, { latestCreated: 'web-2', latestReady: 'web-2' });

    expect(outcome.rollout).toMatchObject({ phase: 'RolledBack', limit: { name: 'maxErrorRate', observed: 0.4 } });
    expect(outcome.traffic).toEqual([{ revisionName: 'web-1', percent: 100 }]);
    expect(outcome.requeue).toBeUndefined();
    // The status write comes first: no event until it is announced after that write.
    expect(log.list()).toEqual([]);
    driver.announce('web', outcome.rollout);
    const [event] = log.list();
    expect(event).toMatchObject({ type: 'Warning', reason: 'RolloutRolledBack' });
    expect(event?.message).toContain('maxErrorRate passed: 5xx rate 0.4 > 0.1 over 20 requests');
    expect(toCloudEvent(event!, { instance: 'i', hostname: 'web.localhost' })?.type).toBe(
      'dev.luma.rollout.rolledback',
    );

    const status = buildProjectStatus(
      web,
      web.status ?? {},
      { ...BUILT_IN_PROJECT_SETTINGS.forProject(web.spec), image: 'web:2' },
      {
        phase: 'Running',
        serving: 1,
        starting: 0,
        paused: 0,
        stopped: 0,
        rollout: outcome.rollout,
        traffic: outcome.traffic,
      },
      { now: T0, publicUrl: (host) => `http://${host}` },
    );
    expect(status.conditions?.find((condition) => condition.type === 'Rollout')).toMatchObject({
      status: 'False',
      reason: 'RolledBack',
      message: expect.stringContaining('maxErrorRate'),
    });
    expect(status.traffic).toEqual([{ revisionName: 'web-1', percent: 100 }]);
  });

  it('keeps a step under way looked at every second, and leaves it unjudged when the proxy cannot answer', async () => {
    const proxy = new FakeProxy();
    proxy.revisionOutcomes = () => Promise.reject(new Error('socket closed'));
    const driver = new RolloutDriver({
      proxy,
      events: new MemoryEventLog().recorder('controller'),
      logger: silentLogger(),
      now: () => T0,
    });
    const web = project({
      phase: 'Progressing',
      stable: 'web-1',
      candidate: 'web-2',
      step: 0,
      stepStartedAt: new Date(T0).toISOString(),
    });
    const outcome = await driver.step(web, { latestCreated: 'web-2', latestReady: 'web-2' });
    expect(outcome.rollout?.phase).toBe('Progressing');
    expect(outcome.requeue).toEqual({ requeueAfterMs: 1_000 });
  });

  it('asks the proxy nothing for a project without a rollout, and clears one of an older candidate', async () => {
    const proxy = new FakeProxy();
    let asked = 0;
    proxy.revisionOutcomes = () => {
      asked++;
      return Promise.resolve({});
    };
    const driver = new RolloutDriver({
      proxy,
      events: new MemoryEventLog().recorder('c'),
      logger: silentLogger(),
      now: () => T0,
    });
    const plain: ProjectObject = {
      ...project(STEP),
      spec: { image: 'web:3', hostnames: ['web.localhost'] },
      status: {},
    };
    expect(await driver.step(plain, { latestCreated: 'web-3', latestReady: 'web-3' })).toEqual({
      rollout: null,
      traffic: null,
      requeue: undefined,
    });
    expect(asked).toBe(0);
    // spec.rollout removed after web-2 rolled back; web-3 applied: the old rollout goes.
    const old = { ...project({ ...STEP, phase: 'RolledBack' }), spec: plain.spec };
    expect((await driver.step(old, { latestCreated: 'web-3', latestReady: 'web-3' })).rollout).toBeNull();
  });

  it('a rollout that ends hands the split back at once', async () => {
    const proxy = new FakeProxy();
    proxy.revisionOutcomes = () => Promise.resolve({ 'web-2': counts(50, 0) });
    const driver = new RolloutDriver({
      proxy,
      events: new MemoryEventLog().recorder('c'),
      logger: silentLogger(),
      now: () => T0 + 120_000,
    });
    const outcome = await driver.step(project(STEP), { latestCreated: 'web-2', latestReady: 'web-2' });
    expect(outcome.rollout?.phase).toBe('Succeeded');
    expect(outcome.traffic).toBeNull();
    expect(outcome.requeue).toEqual({ requeueAfterMs: 0 });
  });

  it('`luma rollout undo` (the annotation) ends the rollout: an event, and the declared split at once', async () => {
    const proxy = new FakeProxy();
    const log = new MemoryEventLog();
    const driver = new RolloutDriver({ proxy, events: log.recorder('c'), logger: silentLogger(), now: () => T0 });
    const web = project(STEP);
    web.metadata.annotations = { [ROLLOUT_UNDO_ANNOTATION]: 'web-2:web-1' };
    const outcome = await driver.step(web, { latestCreated: 'web-2', latestReady: 'web-2' });
    expect(outcome.rollout).toMatchObject({ phase: 'Undone', stable: 'web-1', reason: 'Undone' });
    expect(outcome.traffic).toBeNull();
    expect(outcome.requeue).toEqual({ requeueAfterMs: 0 });
    driver.announce('web', outcome.rollout);
    expect(log.list().map((event) => [event.type, event.reason, event.message])).toEqual([
      ['Normal', 'RolloutUndone', 'rollout of web-2 undone at step 1; all traffic to web-1'],
    ]);
  });

  describe('a controller restarted between the status write and the event', () => {
    const log = (): MemoryEventLog => new MemoryEventLog({ now: () => T0 + 5_000 });
    function driverOn(events: MemoryEventLog): RolloutDriver {
      const proxy = new FakeProxy();
      proxy.outcomes.set('web-2', counts(20, 8));
      return new RolloutDriver({
        proxy,
        events: events.recorder('controller'),
        history: (object) => events.list({ kind: object.kind, name: object.name }),
        logger: silentLogger(),
        now: () => T0 + 5_000,
      });
    }
    const REVISIONS = { latestCreated: 'web-2', latestReady: 'web-2' };
    const rolledBack = (events: MemoryEventLog): number[] =>
      events.list().flatMap((event) => (event.reason === 'RolloutRolledBack' ? [event.count] : []));

    it('after the write, before the event: the restarted one announces it, once', async () => {
      const events = log();
      const first = await driverOn(events).step(project(STEP), REVISIONS);
      // Written (what the reconciler's status write stores), then the process dies.
      const stored = project(JSON.parse(JSON.stringify(first.rollout)) as RolloutStatus);
      expect(stored.status?.rollout?.pendingEvents?.map((record) => record.reason)).toEqual(['RolloutRolledBack']);
      expect(rolledBack(events)).toEqual([]);
      const restarted = driverOn(events);
      const again = await restarted.step(stored, REVISIONS);
      expect(rolledBack(events)).toEqual([1]);
      restarted.announce('web', again.rollout);
      await restarted.step(stored, REVISIONS);
      expect(rolledBack(events)).toEqual([1]);
    });

    it('after the event: the restarted one finds it in the log and does not repeat it', async () => {
      const events = log();
      const before = driverOn(events);
      const first = await before.step(project(STEP), REVISIONS);
      before.announce('web', first.rollout);
      expect(rolledBack(events)).toEqual([1]);
      const stored = project(JSON.parse(JSON.stringify(first.rollout)) as RolloutStatus);
      const restarted = driverOn(events);
      const again = await restarted.step(stored, REVISIONS);
      restarted.announce('web', again.rollout);
      expect(rolledBack(events)).toEqual([1]);
    });

    it('before the write: nothing was announced, and the decision made again is, once', async () => {
      const events = log();
      await driverOn(events).step(project(STEP), REVISIONS);
      const restarted = driverOn(events);
      const again = await restarted.step(project(STEP), REVISIONS);
      restarted.announce('web', again.rollout);
      restarted.announce('web', again.rollout);
      expect(rolledBack(events)).toEqual([1]);
    });
  });
});
