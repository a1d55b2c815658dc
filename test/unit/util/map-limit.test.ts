import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../../src/util/map-limit.js';

describe('mapLimit', () => {
  it('answers in the order of the items, with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (ms) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inFlight -= 1;
      return ms * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('rejects with the first failure, and refuses a limit that is not a positive integer', async () => {
    await expect(
      mapLimit([1, 2], 4, (n) => (n === 2 ? Promise.reject(new Error('two')) : Promise.resolve(n))),
    ).rejects.toThrow('two');
    await expect(mapLimit([1], 0, (n) => Promise.resolve(n))).rejects.toThrow(/positive integer, got 0/);
  });
});
