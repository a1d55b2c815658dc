import { describe, expect, it } from 'vitest';
import { pacedBy } from '../../../src/util/duty-cycle.js';

// Background work paced to a share of one core: it rests once a slice of work has gone by,
// steps arriving during a rest wait for that same rest, and the next slice starts after it.

describe('pacedBy', () => {
  it('rests restMs once workMs of work have gone by, and not before', async () => {
    let now = 0;
    const pace = pacedBy({ workMs: 4, restMs: 30 }, () => now);
    now = 3.9;
    let began = performance.now();
    await pace();
    expect(performance.now() - began).toBeLessThan(20);
    now = 4;
    began = performance.now();
    await pace();
    expect(performance.now() - began).toBeGreaterThanOrEqual(25);
  });

  it('makes steps that arrive during a rest wait for the same rest, then starts a new slice', async () => {
    let now = 0;
    const pace = pacedBy({ workMs: 4, restMs: 30 }, () => now);
    now = 10;
    const first = pace();
    const second = pace();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    now = 13;
    const began = performance.now();
    await pace();
    expect(performance.now() - began).toBeLessThan(20);
  });

  it('refuses a cycle without work', () => {
    expect(() => pacedBy({ workMs: 0, restMs: 4 })).toThrow(/workMs must be > 0/);
  });
});
