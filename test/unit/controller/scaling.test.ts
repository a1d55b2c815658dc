import { describe, expect, it } from 'vitest';
import {
  decideInstances,
  withWakeAt,
  type ScalingDecision,
  type ScalingInput,
} from '../../../src/controller/scaling.js';

const NOW = 1_700_000_000_000;
const IDLE = 60_000;

function input(overrides: Partial<ScalingInput>): ScalingInput {
  return {
    minInstances: 0,
    maxInstances: 1,
    targetConcurrency: 80,
    idleTimeoutMs: IDLE,
    activity: undefined,
    serving: 0,
    servingSince: undefined,
    now: NOW,
    ...overrides,
  };
}

interface Row {
  name: string;
  given: Partial<ScalingInput>;
  want: ScalingDecision;
}

const rows: Row[] = [
  {
    name: 'cold, nothing ever happened → scaled to zero',
    given: {},
    want: { surplus: 'stop', desired: 0, nextCheckAt: undefined, reason: 'idle' },
  },
  {
    name: 'cold with one held request → 1',
    given: { activity: { waiting: 1, inFlight: 0, lastActivityAt: NOW } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW + IDLE, reason: 'held-requests' },
  },
  {
    name: 'cold with many held requests and room for more → by concurrency',
    given: { maxInstances: 5, targetConcurrency: 10, activity: { waiting: 25, inFlight: 0, lastActivityAt: NOW } },
    want: { surplus: 'stop', desired: 3, nextCheckAt: NOW + IDLE, reason: 'held-requests' },
  },
  {
    name: 'cold with many held requests, max 1 → 1',
    given: { activity: { waiting: 500, inFlight: 0, lastActivityAt: NOW } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW + IDLE, reason: 'held-requests' },
  },
  {
    name: 'load above target concurrency → ceil(load / target)',
    given: {
      maxInstances: 10,
      targetConcurrency: 10,
      serving: 1,
      activity: { waiting: 0, inFlight: 35, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 4, nextCheckAt: NOW + IDLE, reason: 'concurrency' },
  },
  {
    name: 'held and in-flight requests both count as load',
    given: {
      maxInstances: 10,
      targetConcurrency: 5,
      serving: 2,
      activity: { waiting: 5, inFlight: 6, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 3, nextCheckAt: NOW + IDLE, reason: 'concurrency' },
  },
  {
    name: 'load exactly at a multiple of the target does not round up',
    given: {
      maxInstances: 10,
      targetConcurrency: 10,
      serving: 1,
      activity: { waiting: 0, inFlight: 20, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 2, nextCheckAt: NOW + IDLE, reason: 'concurrency' },
  },
  {
    name: 'concurrency is capped at maxInstances',
    given: {
      maxInstances: 3,
      targetConcurrency: 10,
      serving: 1,
      activity: { waiting: 0, inFlight: 100, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 3, nextCheckAt: NOW + IDLE, reason: 'concurrency' },
  },
  {
    name: 'a target concurrency of 0 counts as 1',
    given: {
      maxInstances: 4,
      targetConcurrency: 0,
      serving: 1,
      activity: { waiting: 0, inFlight: 3, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 3, nextCheckAt: NOW + IDLE, reason: 'concurrency' },
  },
  {
    name: 'load below what is serving keeps the current count (no scale-down under load)',
    given: {
      maxInstances: 5,
      targetConcurrency: 10,
      serving: 3,
      activity: { waiting: 0, inFlight: 1, lastActivityAt: NOW },
    },
    want: { surplus: 'stop', desired: 3, nextCheckAt: NOW + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'no load but recent activity keeps the current count, idle at last activity + timeout',
    given: { maxInstances: 5, serving: 2, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 10_000 } },
    want: { surplus: 'stop', desired: 2, nextCheckAt: NOW - 10_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'recent activity with nothing serving (a crashed instance) → 1',
    given: { activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 1_000 } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW - 1_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'recent activity at minInstances has no idle deadline',
    given: { minInstances: 1, serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 1_000 } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: undefined, reason: 'recent-activity' },
  },
  {
    name: 'recent activity below minInstances → minInstances',
    given: {
      minInstances: 2,
      maxInstances: 2,
      serving: 0,
      activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 1_000 },
    },
    want: { surplus: 'stop', desired: 2, nextCheckAt: undefined, reason: 'recent-activity' },
  },
  {
    name: 'one millisecond before the idle timeout → still kept',
    given: { serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - IDLE + 1 } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW + 1, reason: 'recent-activity' },
  },
  {
    name: 'exactly at the idle timeout → idle',
    given: { serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - IDLE } },
    want: { surplus: 'stop', desired: 0, nextCheckAt: undefined, reason: 'idle' },
  },
  {
    name: 'idle → scaled to zero',
    given: { maxInstances: 5, serving: 3, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 5 * IDLE } },
    want: { surplus: 'stop', desired: 0, nextCheckAt: undefined, reason: 'idle' },
  },
  {
    name: 'idle with minInstances → minInstances',
    given: {
      minInstances: 2,
      maxInstances: 5,
      serving: 4,
      activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 5 * IDLE },
    },
    want: { surplus: 'stop', desired: 2, nextCheckAt: undefined, reason: 'min-instances' },
  },
  {
    name: 'minInstances with nothing ever happening → minInstances',
    given: { minInstances: 1 },
    want: { surplus: 'stop', desired: 1, nextCheckAt: undefined, reason: 'min-instances' },
  },
  {
    name: 'after a restart (no proxy activity) an instance serving since recently is kept until the idle timeout',
    given: { serving: 1, servingSince: NOW - 5_000, activity: undefined },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW - 5_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'after a restart, activity with no request yet (an empty snapshot) still uses servingSince',
    given: { serving: 1, servingSince: NOW - 5_000, activity: { waiting: 0, inFlight: 0 } },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW - 5_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'after a restart, once idleTimeout has passed since servingSince → idle',
    given: { serving: 1, servingSince: NOW - IDLE, activity: undefined },
    want: { surplus: 'stop', desired: 0, nextCheckAt: undefined, reason: 'idle' },
  },
  {
    name: 'servingSince newer than the last request sets the idle deadline',
    given: {
      serving: 1,
      servingSince: NOW - 2_000,
      activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 50_000 },
    },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW - 2_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'a request newer than servingSince sets the idle deadline',
    given: {
      serving: 1,
      servingSince: NOW - 50_000,
      activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 2_000 },
    },
    want: { surplus: 'stop', desired: 1, nextCheckAt: NOW - 2_000 + IDLE, reason: 'recent-activity' },
  },
];

const PAUSE = 10_000;

/** With pauseAfter: recent → running; quiet past pauseAfter → frozen; past idleTimeout → stopped. */
const pauseRows: Row[] = [
  {
    name: 'pauseAfter: quiet for less than pauseAfter → kept running, next check when pauseAfter passes',
    given: { pauseAfterMs: PAUSE, serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 5_000 } },
    want: { desired: 1, surplus: 'stop', nextCheckAt: NOW - 5_000 + PAUSE, reason: 'recent-activity' },
  },
  {
    name: 'pauseAfter: quiet past pauseAfter but not idleTimeout → surplus paused, next check at idleTimeout',
    given: { pauseAfterMs: PAUSE, serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 20_000 } },
    want: { desired: 0, surplus: 'pause', nextCheckAt: NOW - 20_000 + IDLE, reason: 'paused' },
  },
  {
    name: 'pauseAfter: exactly at pauseAfter → paused',
    given: { pauseAfterMs: PAUSE, serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - PAUSE } },
    want: { desired: 0, surplus: 'pause', nextCheckAt: NOW - PAUSE + IDLE, reason: 'paused' },
  },
  {
    name: 'pauseAfter: quiet past idleTimeout → stopped',
    given: { pauseAfterMs: PAUSE, serving: 0, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - IDLE } },
    want: { desired: 0, surplus: 'stop', nextCheckAt: undefined, reason: 'idle' },
  },
  {
    name: 'pauseAfter: with minInstances, the instances above it are paused',
    given: {
      pauseAfterMs: PAUSE,
      minInstances: 1,
      maxInstances: 3,
      serving: 3,
      activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 20_000 },
    },
    want: { desired: 1, surplus: 'pause', nextCheckAt: NOW - 20_000 + IDLE, reason: 'paused' },
  },
  {
    name: 'pauseAfter: load wakes a paused project like a stopped one',
    given: { pauseAfterMs: PAUSE, serving: 0, activity: { waiting: 2, inFlight: 0, lastActivityAt: NOW } },
    want: { desired: 1, surplus: 'stop', nextCheckAt: NOW + PAUSE, reason: 'held-requests' },
  },
  {
    name: 'pauseAfter not below idleTimeout is ignored',
    given: { pauseAfterMs: IDLE, serving: 1, activity: { waiting: 0, inFlight: 0, lastActivityAt: NOW - 20_000 } },
    want: { desired: 1, surplus: 'stop', nextCheckAt: NOW - 20_000 + IDLE, reason: 'recent-activity' },
  },
  {
    name: 'pauseAfter after a restart: servingSince is the floor of the pause clock too',
    given: { pauseAfterMs: PAUSE, serving: 1, servingSince: NOW - 1_000, activity: undefined },
    want: { desired: 1, surplus: 'stop', nextCheckAt: NOW - 1_000 + PAUSE, reason: 'recent-activity' },
  },
];

describe('decideInstances', () => {
  it.each(rows.map((row) => [row.name, row] as const))('%s', (_name, { given, want }) => {
    expect(decideInstances(input(given))).toEqual(want);
  });

  it.each(pauseRows.map((row) => [row.name, row] as const))('%s', (_name, { given, want }) => {
    expect(decideInstances(input(given))).toEqual(want);
  });

  it('walks the idle tiers in order as time passes: running → paused → stopped', () => {
    const activity = { waiting: 0, inFlight: 0, lastActivityAt: NOW };
    const at = (now: number, serving: number) =>
      decideInstances(input({ pauseAfterMs: PAUSE, serving, activity, now }));
    const running = at(NOW + 1, 1);
    expect(running).toMatchObject({ desired: 1, reason: 'recent-activity' });
    const paused = at(running.nextCheckAt!, 1);
    expect(paused).toMatchObject({ desired: 0, surplus: 'pause' });
    const stopped = at(paused.nextCheckAt!, 0);
    expect(stopped).toMatchObject({ desired: 0, surplus: 'stop', reason: 'idle', nextCheckAt: undefined });
  });

  it('scales down once the clock passes idleAt and not before', () => {
    const activity = { waiting: 0, inFlight: 0, lastActivityAt: NOW };
    const first = decideInstances(input({ serving: 1, activity, now: NOW + 1_000 }));
    expect(first.desired).toBe(1);
    const idleAt = first.nextCheckAt!;
    expect(decideInstances(input({ serving: 1, activity, now: idleAt - 1 })).desired).toBe(1);
    expect(decideInstances(input({ serving: 1, activity, now: idleAt })).desired).toBe(0);
  });

  it('never decides above maxInstances or below minInstances', () => {
    for (const minInstances of [0, 1, 2]) {
      for (const maxInstances of [2, 3]) {
        for (const load of [0, 1, 50, 1_000]) {
          for (const lastActivityAt of [NOW, NOW - 10 * IDLE]) {
            const { desired } = decideInstances(
              input({
                minInstances,
                maxInstances,
                targetConcurrency: 10,
                serving: 1,
                activity: { waiting: load, inFlight: load, lastActivityAt },
              }),
            );
            expect(desired).toBeGreaterThanOrEqual(minInstances);
            expect(desired).toBeLessThanOrEqual(maxInstances);
          }
        }
      }
    }
  });
});

describe('withWakeAt', () => {
  it('starts an idle project woken by a user, and idles it an idle timeout later', () => {
    const activity = withWakeAt(undefined, NOW);
    expect(decideInstances(input({ activity }))).toMatchObject({ desired: 1, reason: 'recent-activity' });
    expect(decideInstances(input({ activity, serving: 1, now: NOW + IDLE }))).toMatchObject({ desired: 0 });
  });

  it('keeps the later of the last request and the wake, and the load as the proxy tells it', () => {
    const proxy = { waiting: 2, inFlight: 1, lastActivityAt: NOW + 5 };
    expect(withWakeAt(proxy, NOW)).toEqual(proxy);
    expect(withWakeAt(proxy, NOW + 9)).toEqual({ ...proxy, lastActivityAt: NOW + 9 });
    expect(withWakeAt(proxy, undefined)).toBe(proxy);
  });
});
