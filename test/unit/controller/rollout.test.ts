import { describe, expect, it } from 'vitest';
import { decideRollout, rolloutCondition, type RolloutInput } from '../../../src/controller/rollout.js';
import type { RolloutCounts, RolloutSpec, RolloutStatus, TrafficTarget } from '../../../src/model/types.js';
import { LATENCY_BOUNDS_MS } from '../../../src/proxy/revision-outcomes.js';

// decideRollout is table-driven: each row gives the spec, the stored status, the
// candidate's readiness and counts, and the time, then the status, traffic and events
// expected. Failure rows (limits passed, a candidate never ready) sit beside the happy path.

const T0 = Date.parse('2026-12-07T12:00:00Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

const SPEC: RolloutSpec = {
  steps: [
    { percent: 10, durationSeconds: 30 },
    { percent: 50, durationSeconds: 60 },
  ],
  limits: { maxErrorRate: 0.1, maxLatencyP99Ms: 500, minRequests: 20 },
};

/** `requests` answers, `errors` of them 5xx, all in the bucket of `ms`. */
function counts(requests: number, errors = 0, ms = 10): RolloutCounts {
  const latencyBuckets = LATENCY_BOUNDS_MS.map(() => 0).concat(0);
  const bucket = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  latencyBuckets[bucket < 0 ? LATENCY_BOUNDS_MS.length : bucket] = requests;
  return { requests, errors, latencyBuckets };
}

const STEP1: RolloutStatus = {
  phase: 'Progressing',
  stable: 'web-1',
  candidate: 'web-2',
  step: 0,
  stepStartedAt: at(0),
  baseline: counts(0),
};

function input(overrides: Partial<RolloutInput>): RolloutInput {
  return {
    spec: SPEC,
    previous: undefined,
    candidate: 'web-2',
    candidateReady: true,
    lastGood: 'web-1',
    outcomes: undefined,
    now: T0,
    ...overrides,
  };
}

const split = (stable: number, candidate: number): TrafficTarget[] =>
  candidate === 0
    ? [{ revisionName: 'web-1', percent: 100 }]
    : [
        { revisionName: 'web-1', percent: stable },
        { revisionName: 'web-2', percent: candidate },
      ];

interface Row {
  name: string;
  given: Partial<RolloutInput>;
  phase: RolloutStatus['phase'] | undefined;
  step?: number;
  traffic: TrafficTarget[] | undefined;
  events: string[];
  limit?: RolloutStatus['limit'];
}

const rows: Row[] = [
  { name: 'no spec.rollout: no rollout', given: { spec: undefined }, phase: undefined, traffic: undefined, events: [] },
  {
    name: 'first revision: nothing to roll out from',
    given: { lastGood: undefined },
    phase: undefined,
    traffic: undefined,
    events: [],
  },
  {
    name: 'new candidate not ready: stable keeps all traffic',
    given: { candidateReady: false },
    phase: 'Progressing',
    step: 0,
    traffic: split(100, 0),
    events: ['RolloutStarted'],
  },
  {
    name: 'candidate that never becomes ready: no traffic, long after',
    given: {
      previous: { ...STEP1, stepStartedAt: undefined, baseline: undefined },
      candidateReady: false,
      now: T0 + 3_600_000,
    },
    phase: 'Progressing',
    step: 0,
    traffic: split(100, 0),
    events: [],
  },
  {
    name: 'candidate ready: step 1 begins at its share',
    given: {},
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: ['RolloutStarted'],
  },
  {
    name: 'mid-step, within limits: holds',
    given: { previous: STEP1, outcomes: counts(50, 2), now: T0 + 10_000 },
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: [],
  },
  {
    name: 'step over, within limits: next step',
    given: { previous: STEP1, outcomes: counts(50, 2), now: T0 + 30_000 },
    phase: 'Progressing',
    step: 1,
    traffic: split(50, 50),
    events: ['RolloutStepAdvanced'],
  },
  {
    name: 'step over but fewer than minRequests: holds',
    given: { previous: STEP1, outcomes: counts(5), now: T0 + 90_000 },
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: [],
  },
  {
    name: 'last step over: succeeded, declared traffic again',
    given: { previous: { ...STEP1, step: 1 }, outcomes: counts(40), now: T0 + 60_000 },
    phase: 'Succeeded',
    traffic: undefined,
    events: ['RolloutSucceeded'],
  },
  {
    name: 'failure: 5xx rate past maxErrorRate rolls back',
    given: { previous: STEP1, outcomes: counts(40, 12), now: T0 + 5_000 },
    phase: 'RolledBack',
    traffic: split(100, 0),
    events: ['RolloutRolledBack'],
    limit: { name: 'maxErrorRate', value: 0.1, observed: 0.3, requests: 40 },
  },
  {
    name: 'failure: p99 past maxLatencyP99Ms rolls back',
    given: { previous: STEP1, outcomes: counts(30, 0, 900), now: T0 + 5_000 },
    phase: 'RolledBack',
    traffic: split(100, 0),
    events: ['RolloutRolledBack'],
    limit: { name: 'maxLatencyP99Ms', value: 500, observed: 1000, requests: 30 },
  },
  {
    name: 'errors before minRequests are not judged yet',
    given: { previous: STEP1, outcomes: counts(10, 10), now: T0 + 5_000 },
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: [],
  },
  {
    name: 'only the step counts: errors before its baseline are not held against it',
    given: { previous: { ...STEP1, baseline: counts(100, 90) }, outcomes: counts(130, 91), now: T0 + 5_000 },
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: [],
  },
  {
    name: 'a proxy restart (counts below the baseline) counts from zero',
    given: { previous: { ...STEP1, baseline: counts(500) }, outcomes: counts(25, 10), now: T0 + 5_000 },
    phase: 'RolledBack',
    traffic: split(100, 0),
    events: ['RolloutRolledBack'],
    limit: { name: 'maxErrorRate', value: 0.1, observed: 0.4, requests: 25 },
  },
  {
    name: 'rolled back stays rolled back: stable keeps all traffic',
    given: { previous: { ...STEP1, phase: 'RolledBack' }, outcomes: counts(100), now: T0 + 600_000 },
    phase: 'RolledBack',
    traffic: split(100, 0),
    events: [],
  },
  {
    name: 'paused: holds the step past its duration',
    given: { spec: { ...SPEC, paused: true }, previous: STEP1, outcomes: counts(50), now: T0 + 10_000 },
    phase: 'Paused',
    step: 0,
    traffic: split(90, 10),
    events: ['RolloutPaused'],
  },
  {
    name: 'still paused long after: no step, no event',
    given: {
      spec: { ...SPEC, paused: true },
      previous: { ...STEP1, phase: 'Paused', pausedElapsedMs: 10_000 },
      outcomes: counts(50),
      now: T0 + 600_000,
    },
    phase: 'Paused',
    step: 0,
    traffic: split(90, 10),
    events: [],
  },
  {
    name: 'resumed: the step carries on with the time it had left',
    given: {
      previous: { ...STEP1, phase: 'Paused', pausedElapsedMs: 10_000 },
      outcomes: counts(50),
      now: T0 + 600_000,
    },
    phase: 'Progressing',
    step: 0,
    traffic: split(90, 10),
    events: ['RolloutResumed'],
  },
  {
    name: 'a newer revision mid-rollout starts over from the same stable one',
    given: { previous: { ...STEP1, step: 1 }, candidate: 'web-3', candidateReady: false },
    phase: 'Progressing',
    step: 0,
    traffic: split(100, 0),
    events: ['RolloutStarted'],
  },
];

describe('decideRollout', () => {
  it.each(rows)('$name', (row) => {
    const decision = decideRollout(input(row.given));
    expect(decision.status?.phase).toBe(row.phase);
    if (row.step !== undefined) expect(decision.status?.step).toBe(row.step);
    const traffic = decision.traffic?.map((target) =>
      target.revisionName === 'web-3' ? { ...target, revisionName: 'web-2' } : target,
    );
    expect(traffic).toEqual(row.traffic);
    expect(decision.transitions.map((transition) => transition.reason)).toEqual(row.events);
    if (row.limit) expect(decision.status?.limit).toEqual(row.limit);
  });

  it('says which limit was passed and the figure observed', () => {
    const decision = decideRollout(input({ previous: STEP1, outcomes: counts(40, 12), now: T0 + 5_000 }));
    expect(decision.transitions[0]?.message).toBe(
      'web-2 maxErrorRate passed: 5xx rate 0.3 > 0.1 over 40 requests at step 1; all traffic back to web-1',
    );
    expect(rolloutCondition(decision.status!)).toMatchObject({
      type: 'Rollout',
      status: 'False',
      reason: 'RolledBack',
    });
  });

  it('an undo of the rollout under way ends its hold: Undone, its target stable, declared traffic again', () => {
    const undo = { candidate: 'web-2', target: 'web-1' };
    for (const previous of [
      STEP1,
      { ...STEP1, phase: 'Paused' as const },
      { ...STEP1, phase: 'RolledBack' as const },
    ]) {
      const decision = decideRollout(input({ previous, outcomes: counts(40), now: T0 + 5_000, undo }));
      expect(decision.status).toMatchObject({ phase: 'Undone', stable: 'web-1', candidate: 'web-2', reason: 'Undone' });
      expect(decision.traffic).toBeUndefined();
      expect(decision.transitions).toEqual([
        { type: 'Normal', reason: 'RolloutUndone', message: 'rollout of web-2 undone at step 1; all traffic to web-1' },
      ]);
      expect(rolloutCondition(decision.status!)).toMatchObject({ status: 'False', reason: 'Undone' });
      // Looked at again (the annotation still there): undone once, no second event.
      const again = decideRollout(input({ previous: decision.status, now: T0 + 6_000, undo }));
      expect(again.status?.phase).toBe('Undone');
      expect(again.transitions).toEqual([]);
    }
    // --to-revision: the target becomes the stable revision a later rollout starts from.
    const toZero = decideRollout(input({ previous: STEP1, undo: { candidate: 'web-2', target: 'web-0' } }));
    expect(toZero.status?.stable).toBe('web-0');
    const next = decideRollout(input({ previous: toZero.status, candidate: 'web-3', undo: undefined }));
    expect(next.status).toMatchObject({ phase: 'Progressing', stable: 'web-0', candidate: 'web-3' });
  });

  it('an undo stamped for an older candidate, or after success, changes nothing', () => {
    const stale = decideRollout(
      input({ previous: STEP1, now: T0 + 5_000, undo: { candidate: 'web-1', target: 'web-0' } }),
    );
    expect(stale.status?.phase).toBe('Progressing');
    const done = { ...STEP1, phase: 'Succeeded' as const };
    const after = decideRollout(input({ previous: done, undo: { candidate: 'web-2', target: 'web-1' } }));
    expect(after.status?.phase).toBe('Succeeded');
    expect(after.transitions).toEqual([]);
  });

  it('gives a resumed step the time it had left', () => {
    const paused: RolloutStatus = { ...STEP1, phase: 'Paused', pausedElapsedMs: 20_000 };
    const resumed = decideRollout(input({ previous: paused, outcomes: counts(50), now: T0 + 600_000 })).status!;
    const notYet = decideRollout(input({ previous: resumed, outcomes: counts(50), now: T0 + 609_000 }));
    expect(notYet.status?.step).toBe(0);
    const next = decideRollout(input({ previous: resumed, outcomes: counts(50), now: T0 + 610_000 }));
    expect(next.status?.step).toBe(1);
  });

  it('resumes from a stored status alone, as after a controller restart', () => {
    const first = decideRollout(input({ outcomes: counts(7) })).status!;
    const stored = JSON.parse(JSON.stringify(first)) as RolloutStatus;
    const later = decideRollout(input({ previous: stored, outcomes: counts(37), now: T0 + 30_000 }));
    expect(later.status).toMatchObject({ phase: 'Progressing', step: 1, baseline: counts(37) });
  });
});
