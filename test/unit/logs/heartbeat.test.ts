import { describe, expect, it } from 'vitest';
import { startHeartbeat } from '../../../src/logs/heartbeat.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';

describe('startHeartbeat', () => {
  it('beats once per interval, not before, until stopped', async () => {
    const clock = new FakeClock();
    const beats: number[] = [];
    const stop = startHeartbeat(clock, 15_000, () => beats.push(clock.now()));
    await clock.advance(14_999);
    expect(beats).toEqual([]);
    await clock.advance(1);
    expect(beats).toEqual([15_000]);
    await clock.advance(30_000);
    expect(beats).toEqual([15_000, 30_000, 45_000]);
    stop();
    await clock.advance(60_000);
    expect(beats).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses an interval that is not positive', () => {
    expect(() => startHeartbeat(new FakeClock(), 0, () => undefined)).toThrow(
      'a heartbeat interval must be positive, got 0 ms',
    );
  });
});
