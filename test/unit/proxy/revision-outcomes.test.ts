import { describe, expect, it } from 'vitest';
import { RevisionOutcomes, countsSince, p99Ms } from '../../../src/proxy/revision-outcomes.js';

describe('RevisionOutcomes', () => {
  it('counts each revision apart: requests, 5xx, latency buckets', () => {
    const outcomes = new RevisionOutcomes();
    outcomes.record('web-1', 200, 3);
    outcomes.record('web-2', 503, 40);
    outcomes.record('web-2', 404, 700);
    const { 'web-1': one, 'web-2': two } = outcomes.snapshot();
    expect(one).toMatchObject({ requests: 1, errors: 0 });
    expect(two).toMatchObject({ requests: 2, errors: 1 });
    expect(two?.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('gives a copy: later requests do not change a snapshot', () => {
    const outcomes = new RevisionOutcomes();
    outcomes.record('web-1', 200, 3);
    const before = outcomes.snapshot();
    outcomes.record('web-1', 500, 3);
    expect(before['web-1']).toMatchObject({ requests: 1, errors: 0 });
  });
});

describe('p99Ms and countsSince', () => {
  it('takes the bucket bound the 99th percentile falls in', () => {
    const outcomes = new RevisionOutcomes();
    for (let index = 0; index < 99; index++) outcomes.record('r', 200, 8);
    outcomes.record('r', 200, 400);
    expect(p99Ms(outcomes.snapshot()['r']!)).toBe(10);
    outcomes.record('r', 200, 400);
    expect(p99Ms(outcomes.snapshot()['r']!)).toBe(500);
    outcomes.record('r', 200, 60_000);
    outcomes.record('r', 200, 60_000);
    expect(p99Ms(outcomes.snapshot()['r']!)).toBe(Infinity);
  });

  it('subtracts a baseline, and counts from zero after a proxy restart', () => {
    const outcomes = new RevisionOutcomes();
    outcomes.record('r', 500, 3);
    const base = outcomes.snapshot()['r'];
    outcomes.record('r', 200, 3);
    expect(countsSince(outcomes.snapshot()['r']!, base)).toMatchObject({ requests: 1, errors: 0 });
    const restarted = new RevisionOutcomes();
    restarted.record('r', 500, 3);
    expect(countsSince(restarted.snapshot()['r']!, { ...base!, requests: 9 })).toMatchObject({
      requests: 1,
      errors: 1,
    });
  });
});
