import { describe, expect, it } from 'vitest';
import { Deadline, Deadlines } from '../../../../src/proxy/http1/deadlines.js';

// The fast path's timeouts: deadlines kept in lists per duration, one timer per list.
// Only lower bounds on times are asserted: a busy machine makes timers late, never early.

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('Deadlines', () => {
  it('calls each armed deadline once when its time is up, in the order they expire', async () => {
    const deadlines = new Deadlines();
    const started = performance.now();
    const expired: [string, number][] = [];
    const deadline = (name: string): Deadline => new Deadline(() => expired.push([name, performance.now() - started]));
    const [a, b, c] = [deadline('a'), deadline('b'), deadline('c')];
    deadlines.arm(a, 80);
    deadlines.arm(b, 40);
    deadlines.arm(c, 80);
    expect([a.armed, b.armed, c.armed]).toEqual([true, true, true]);
    await sleep(200);
    expect(expired.map(([name]) => name)).toEqual(['b', 'a', 'c']);
    expect(expired[0]?.[1]).toBeGreaterThanOrEqual(39);
    expect(expired[1]?.[1]).toBeGreaterThanOrEqual(79);
    expect([a.armed, b.armed, c.armed]).toEqual([false, false, false]);
  });

  it('never calls a cancelled deadline, and the others still expire on time', async () => {
    const deadlines = new Deadlines();
    const started = performance.now();
    const expired: [string, number][] = [];
    const first = new Deadline(() => expired.push(['first', performance.now() - started]));
    const second = new Deadline(() => expired.push(['second', performance.now() - started]));
    deadlines.arm(first, 100);
    await sleep(50);
    deadlines.arm(second, 100);
    first.cancel();
    first.cancel(); // twice is harmless
    await sleep(250);
    expect(expired.map(([name]) => name)).toEqual(['second']);
    expect(expired[0]?.[1]).toBeGreaterThanOrEqual(149);
  });

  it('re-arming moves a deadline later (a keep-alive timeout counts from the last request)', async () => {
    const deadlines = new Deadlines();
    const started = performance.now();
    const calls: number[] = [];
    const idle = new Deadline(() => calls.push(performance.now() - started));
    deadlines.arm(idle, 100);
    await sleep(50);
    const rearmedAt = performance.now() - started;
    deadlines.arm(idle, 100);
    await sleep(250);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThanOrEqual(rearmedAt + 99);
    // Armed again after it expired, it expires again.
    deadlines.arm(idle, 10);
    await sleep(100);
    expect(calls).toHaveLength(2);
  });
});
