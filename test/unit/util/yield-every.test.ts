import { describe, expect, it } from 'vitest';
import { yieldEvery } from '../../../src/util/yield-every.js';

// The pass's way of sharing the event loop: it gives the loop back once a slice of work
// has gone by, and not between every step (each turn costs a little).

describe('yieldEvery', () => {
  it('lets waiting callbacks run once a slice has gone by, and not before', async () => {
    let now = 0;
    const step = yieldEvery(2, () => now);
    let ran = false;
    setImmediate(() => (ran = true));
    now = 1.5;
    await step();
    expect(ran).toBe(false);
    now = 2;
    await step();
    expect(ran).toBe(true);
  });

  it('starts a new slice after giving the loop back', async () => {
    let now = 0;
    const step = yieldEvery(2, () => now);
    now = 5;
    await step();
    let ran = false;
    setImmediate(() => (ran = true));
    now = 6;
    await step();
    expect(ran).toBe(false);
  });
});
