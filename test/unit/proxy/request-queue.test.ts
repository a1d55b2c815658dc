import { describe, expect, it } from 'vitest';
import { RequestQueue } from '../../../src/proxy/request-queue.js';

// The queue of requests waiting for a slot, on an injected clock: first come, first
// served, bounded, and a waiter can leave from anywhere.

function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Hands out `count` slots named slot-0, slot-1... then nothing. */
function slots(count: number): () => string | undefined {
  let given = 0;
  return () => (given < count ? `slot-${given++}` : undefined);
}

describe('RequestQueue', () => {
  it('serves waiters in arrival order, as many as there are slots, with how long each waited', () => {
    const time = clock();
    const queue = new RequestQueue<string>(time.now);
    const served: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      queue.enter((slot, waitedMs) => served.push(`${name}:${slot}:${waitedMs}`));
      time.advance(10);
    }
    expect(queue.length).toBe(3);
    expect(queue.oldestWaitMs()).toBe(30);

    expect(queue.dispatch(slots(2))).toBe(2);
    expect(served).toEqual(['a:slot-0:30', 'b:slot-1:20']);
    expect(queue.length).toBe(1);

    time.advance(5);
    expect(queue.dispatch(slots(5))).toBe(1);
    expect(served.at(-1)).toBe('c:slot-0:15');
    expect(queue.length).toBe(0);
    expect(queue.oldestWaitMs()).toBe(0);
  });

  it('takes no slot when nobody waits', () => {
    const queue = new RequestQueue<string>(clock().now);
    let asked = 0;
    expect(
      queue.dispatch(() => {
        asked++;
        return 'slot';
      }),
    ).toBe(0);
    expect(asked).toBe(0);
  });

  it('refuses a waiter past its limit, and has room again once one leaves', () => {
    const queue = new RequestQueue<string>(clock().now);
    const leaveA = queue.enter(() => undefined, 2);
    expect(queue.enter(() => undefined, 2)).toBeDefined();
    expect(queue.enter(() => undefined, 2)).toBeUndefined();
    expect(queue.length).toBe(2);
    leaveA?.();
    expect(queue.length).toBe(1);
    expect(queue.enter(() => undefined, 2)).toBeDefined();
  });

  it('lets a waiter leave from the middle (its timeout, its client gone) without changing the order of the rest', () => {
    const queue = new RequestQueue<string>(clock().now);
    const served: string[] = [];
    queue.enter(() => served.push('a'));
    const leaveB = queue.enter(() => served.push('b'));
    queue.enter(() => served.push('c'));
    leaveB?.();
    leaveB?.();
    queue.dispatch(slots(3));
    expect(served).toEqual(['a', 'c']);
  });

  it('has a waiter out of the queue before it is told, so it may enter again or leave at once', () => {
    const queue = new RequestQueue<string>(clock().now);
    let lengthWhenTold = -1;
    const leave = queue.enter(() => {
      lengthWhenTold = queue.length;
      leave?.();
    });
    queue.enter(() => undefined);
    queue.dispatch(slots(1));
    expect(lengthWhenTold).toBe(1);
    expect(queue.length).toBe(1);
  });
});
