import { describe, expect, it } from 'vitest';
import { CheckSchedule } from '../../../src/controller/check-schedule.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

// One timer for every key, checks in due order, never more than `concurrency` at once.

/** Checks that finish only when the test says so. */
function gatedRun(): { run: (key: string) => Promise<void>; started: string[]; finish: (key: string) => void } {
  const started: string[] = [];
  const pending = new Map<string, () => void>();
  return {
    started,
    run: (key) =>
      new Promise<void>((resolve) => {
        started.push(key);
        pending.set(key, resolve);
      }),
    finish: (key) => pending.get(key)?.(),
  };
}

describe('CheckSchedule', () => {
  it('keeps one clock timer however many keys wait, and runs them in order of their due time', async () => {
    const clock = new FakeClock(1_000);
    const ran: string[] = [];
    const schedule = new CheckSchedule<string>(clock, 4, async (key) => void ran.push(key));
    for (let i = 0; i < 500; i++) schedule.schedule(`k${i}`, 1_000 + ((i * 7919) % 1000));
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(999);
    expect(ran).toHaveLength(500);
    const dueOf = (key: string): number => (Number(key.slice(1)) * 7919) % 1000;
    expect(ran.map(dueOf)).toEqual([...ran.map(dueOf)].sort((a, b) => a - b));
    expect(clock.pendingTimers()).toBe(0);
  });

  it('moves a rescheduled key and drops a cancelled one', async () => {
    const clock = new FakeClock(0);
    const ran: string[] = [];
    const schedule = new CheckSchedule<string>(clock, 1, async (key) => void ran.push(key));
    schedule.schedule('a', 100);
    schedule.schedule('b', 200);
    schedule.schedule('a', 300);
    schedule.cancel('b');
    await clock.advance(250);
    expect(ran).toEqual([]);
    await clock.advance(100);
    expect(ran).toEqual(['a']);
    expect(schedule.size).toBe(0);
  });

  it('runs at most `concurrency` checks at once; the rest wait in the order they fell due', async () => {
    const clock = new FakeClock(0);
    const gate = gatedRun();
    const schedule = new CheckSchedule<string>(clock, 2, gate.run);
    for (const [key, at] of [
      ['a', 10],
      ['b', 20],
      ['c', 30],
      ['d', 40],
    ] as const)
      schedule.schedule(key, at);
    await clock.advance(50);
    expect(gate.started).toEqual(['a', 'b']);
    expect(schedule.inFlight).toBe(2);
    gate.finish('b');
    await settle();
    expect(gate.started).toEqual(['a', 'b', 'c']);
    gate.finish('a');
    gate.finish('c');
    await settle();
    expect(gate.started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('goes on after a check that throws', async () => {
    const clock = new FakeClock(0);
    const ran: string[] = [];
    const schedule = new CheckSchedule<string>(clock, 1, async (key) => {
      ran.push(key);
      if (key === 'bad') throw new Error('bug');
    });
    schedule.schedule('bad', 10);
    schedule.schedule('good', 20);
    await clock.advance(30);
    expect(ran).toEqual(['bad', 'good']);
  });

  it('refuses a concurrency below one', () => {
    expect(() => new CheckSchedule(new FakeClock(), 0, async () => undefined)).toThrow(RangeError);
  });
});
