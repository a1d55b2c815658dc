import { describe, expect, it } from 'vitest';
import {
  addCounts,
  mergeActivity,
  MonotonicOutcomes,
  sumOutcomes,
} from '../../../src/daemon/shared-routes/activity-merge.js';
import { countsSince, emptyCounts, type OutcomeCounts } from '../../../src/proxy/revision-outcomes.js';

function counts(requests: number, errors = 0, fastest = requests): OutcomeCounts {
  const result = emptyCounts();
  result.requests = requests;
  result.errors = errors;
  result.latencyBuckets[0] = fastest;
  result.latencyBuckets[5] = requests - fastest;
  return result;
}

describe('mergeActivity', () => {
  it('takes the latest activity of any proxy and adds up their requests', () => {
    const merged = mergeActivity({ lastActivityAt: 1_000, inFlight: 1, waiting: 0 }, [
      { lastActivityAt: 5_000, inFlight: 3, waiting: 2 },
      { inFlight: 0, waiting: 1 },
    ]);
    expect(merged).toEqual({ lastActivityAt: 5_000, inFlight: 4, waiting: 3 });
  });

  it('gives a service its first activity from another proxy when its own saw none', () => {
    expect(mergeActivity({ inFlight: 0, waiting: 0 }, [{ lastActivityAt: 7, inFlight: 0, waiting: 0 }])).toEqual({
      lastActivityAt: 7,
      inFlight: 0,
      waiting: 0,
    });
  });

  it('is its own proxy’s activity when no other proxy reports', () => {
    expect(mergeActivity({ inFlight: 2, waiting: 0 }, [])).toEqual({ inFlight: 2, waiting: 0 });
  });
});

describe('sumOutcomes', () => {
  it('adds the counts of every proxy, revision by revision', () => {
    const sum = sumOutcomes([{ a: counts(3, 1), b: counts(1) }, { a: counts(2, 0, 1) }]);
    expect(sum).toEqual({ a: addCounts(counts(3, 1), counts(2, 0, 1)), b: counts(1) });
    expect(sum.a?.requests).toBe(5);
    expect(sum.a?.errors).toBe(1);
    expect(sum.a?.latencyBuckets[0]).toBe(4);
    expect(sum.a?.latencyBuckets[5]).toBe(1);
  });
});

describe('MonotonicOutcomes', () => {
  it('passes the counts through while the proxy keeps running', () => {
    const outcomes = new MonotonicOutcomes();
    expect(outcomes.observe({ a: counts(2) })).toEqual({ a: counts(2) });
    expect(outcomes.observe({ a: counts(5) })).toEqual({ a: counts(5) });
  });

  it('keeps counting up when the proxy restarts from zero, so a rollout sees only new requests', () => {
    const outcomes = new MonotonicOutcomes();
    outcomes.observe({ a: counts(10, 2) });
    const atStepStart = outcomes.observe({ a: counts(12, 2) });
    const afterRestart = outcomes.observe({ a: counts(3, 1) });
    expect(afterRestart.a?.requests).toBe(15);
    expect(afterRestart.a?.errors).toBe(3);
    expect(countsSince(afterRestart.a ?? emptyCounts(), atStepStart.a).requests).toBe(3);
    expect(outcomes.observe({ a: counts(4, 1) }).a?.requests).toBe(16);
  });

  it('reads totals with a newer count without taking it in', () => {
    const outcomes = new MonotonicOutcomes();
    outcomes.observe({ a: counts(10) });
    expect(outcomes.totals({ a: counts(2) }).a?.requests).toBe(12);
    expect(outcomes.totals({ a: counts(11) }).a?.requests).toBe(11);
    expect(outcomes.observe({ a: counts(11) }).a?.requests).toBe(11);
  });

  it('forgets a revision the proxy no longer counts', () => {
    const outcomes = new MonotonicOutcomes();
    outcomes.observe({ a: counts(10), b: counts(1) });
    expect(outcomes.observe({ b: counts(2) })).toEqual({ b: counts(2) });
    expect(outcomes.observe({ a: counts(1), b: counts(2) }).a?.requests).toBe(1);
  });
});
