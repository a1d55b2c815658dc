import { describe, expect, it } from 'vitest';
import { WorkQueue, type ReconcileResult } from '../../../src/controller/work-queue.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

interface Deferred {
  promise: Promise<ReconcileResult>;
  resolve: (value?: ReconcileResult) => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: (value?: ReconcileResult) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<ReconcileResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A handler whose runs are finished by the test, one Deferred per call. */
function controlledHandler(): {
  handler: (key: string) => Promise<ReconcileResult>;
  calls: Array<{ key: string; run: Deferred }>;
  maxOverlapPerKey: () => number;
} {
  const calls: Array<{ key: string; run: Deferred }> = [];
  const active = new Map<string, number>();
  let maxOverlap = 0;
  const handler = async (key: string): Promise<ReconcileResult> => {
    const run = deferred();
    calls.push({ key, run });
    const count = (active.get(key) ?? 0) + 1;
    active.set(key, count);
    maxOverlap = Math.max(maxOverlap, count);
    try {
      return await run.promise;
    } finally {
      active.set(key, (active.get(key) ?? 1) - 1);
    }
  };
  return { handler, calls, maxOverlapPerKey: () => maxOverlap };
}

describe('WorkQueue', () => {
  it('deduplicates keys while they wait', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue(async (key) => {
      seen.push(key);
    });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.depth()).toBe(2);
    queue.start();
    await settle();
    expect(seen).toEqual(['a', 'b']);
    expect(queue.depth()).toBe(0);
    await queue.stop();
  });

  it('never runs one key twice at once, and runs it once more when added while running', async () => {
    const { handler, calls, maxOverlapPerKey } = controlledHandler();
    const queue = new WorkQueue(handler);
    queue.start();
    queue.add('a');
    await settle();
    expect(calls).toHaveLength(1);

    queue.add('a');
    queue.add('a');
    queue.add('a');
    await settle();
    expect(calls).toHaveLength(1);
    expect(queue.depth()).toBe(1);

    calls[0]?.run.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]?.run.resolve();
    await settle();
    expect(calls).toHaveLength(2);
    expect(maxOverlapPerKey()).toBe(1);
    expect(queue.inFlight()).toBe(0);
    await queue.stop();
  });

  it('keeps one key to one handler under a flood of adds with a slow handler', async () => {
    let running = 0;
    let overlap = 0;
    let runs = 0;
    const queue = new WorkQueue(async () => {
      running++;
      overlap = Math.max(overlap, running);
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
    });
    queue.start();
    for (let i = 0; i < 50; i++) {
      queue.add('a');
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    while (queue.inFlight() > 0 || queue.depth() > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(overlap).toBe(1);
    expect(runs).toBeGreaterThan(1);
    expect(runs).toBeLessThanOrEqual(50);
    await queue.stop();
  });

  it('runs at most `concurrency` different keys at once', async () => {
    const { handler, calls } = controlledHandler();
    const queue = new WorkQueue(handler, { concurrency: 2 });
    queue.start();
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key);
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    expect(queue.inFlight()).toBe(2);
    expect(queue.depth()).toBe(3);

    calls[1]?.run.resolve();
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(queue.inFlight()).toBe(2);

    for (const call of calls) call.run.resolve();
    await settle();
    for (const call of calls) call.run.resolve();
    await settle();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await queue.stop();
  });

  it('retries a failing key with exponential backoff, capped, and resets after a success', async () => {
    const clock = new FakeClock();
    const reported: Array<{ attempt: number; delayMs: number | undefined }> = [];
    let failing = true;
    let runs = 0;
    const queue = new WorkQueue(
      async () => {
        runs++;
        if (failing) throw new Error('docker is down');
      },
      {
        clock,
        baseBackoffMs: 100,
        maxBackoffMs: 1_000,
        onError: (_key, _error, attempt, delayMs) => reported.push({ attempt, delayMs }),
      },
    );
    queue.start();
    queue.add('a');
    await settle();
    expect(runs).toBe(1);

    // Not a moment before each delay is up.
    for (const delay of [100, 200, 400, 800, 1_000, 1_000]) {
      await clock.advance(delay - 1);
      const before = runs;
      expect(queue.depth()).toBe(0);
      await clock.advance(1);
      expect(runs).toBe(before + 1);
    }
    expect(reported.map((r) => r.delayMs)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(reported.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    failing = false;
    await clock.advance(1_000);
    expect(clock.pendingTimers()).toBe(0);
    failing = true;
    queue.add('a');
    await settle();
    expect(reported.at(-1)).toEqual({ attempt: 1, delayMs: 100 });
    await queue.stop();
  });

  it('does not retry a terminal error', async () => {
    const clock = new FakeClock();
    const reported: Array<number | undefined> = [];
    let runs = 0;
    const queue = new WorkQueue(
      async () => {
        runs++;
        throw new Error('broken Dockerfile');
      },
      {
        clock,
        isTerminal: (error) => error instanceof Error && error.message.startsWith('broken'),
        onError: (_k, _e, _a, delayMs) => reported.push(delayMs),
      },
    );
    queue.start();
    queue.add('a');
    await clock.advance(60_000);
    expect(runs).toBe(1);
    expect(reported).toEqual([undefined]);
    expect(clock.pendingTimers()).toBe(0);
    await queue.stop();
  });

  it('survives a handler that throws synchronously and an onError that throws', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const queue = new WorkQueue(
      ((): Promise<ReconcileResult> => {
        runs++;
        throw new Error('sync');
      }) as (key: string) => Promise<ReconcileResult>,
      {
        clock,
        baseBackoffMs: 10,
        onError: () => {
          throw new Error('reporter bug');
        },
      },
    );
    queue.start();
    queue.add('a');
    await settle();
    await clock.advance(10);
    expect(runs).toBe(2);
    await queue.stop();
  });

  it('makes an add during a failing run wait for the backoff', async () => {
    const clock = new FakeClock();
    const { handler, calls } = controlledHandler();
    const queue = new WorkQueue(handler, { clock, baseBackoffMs: 100 });
    queue.start();
    queue.add('a');
    await settle();
    queue.add('a');
    calls[0]?.run.reject(new Error('fail'));
    await settle();
    expect(calls).toHaveLength(1);
    await clock.advance(99);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls).toHaveLength(2);
    calls[1]?.run.resolve();
    await queue.stop();
  });

  it('requeues after requeueAfterMs; an add runs it sooner', async () => {
    const clock = new FakeClock();
    const runsAt: number[] = [];
    const queue = new WorkQueue(
      async () => {
        runsAt.push(clock.now());
        return { requeueAfterMs: 500 };
      },
      { clock },
    );
    queue.start();
    queue.add('a');
    await settle();
    await clock.advance(499);
    expect(runsAt).toEqual([0]);
    await clock.advance(1);
    expect(runsAt).toEqual([0, 500]);

    await clock.advance(100);
    queue.add('a');
    await settle();
    expect(runsAt).toEqual([0, 500, 600]);
    await queue.stop();
  });

  it('keeps the earlier of two scheduled times for one key', async () => {
    const clock = new FakeClock();
    const runsAt: number[] = [];
    const queue = new WorkQueue(
      async () => {
        runsAt.push(clock.now());
      },
      { clock },
    );
    queue.start();
    queue.addAfter('a', 100);
    queue.addAfter('a', 300);
    expect(queue.depth()).toBe(0);
    await clock.advance(1_000);
    expect(runsAt).toEqual([100]);

    queue.addAfter('a', 300);
    queue.addAfter('a', 100);
    await clock.advance(1_000);
    expect(runsAt).toEqual([100, 1_100]);
    expect(clock.pendingTimers()).toBe(0);
    await queue.stop();
  });

  it('stop cancels timers, drops waiting keys and waits for running handlers', async () => {
    const clock = new FakeClock();
    const { handler, calls } = controlledHandler();
    const queue = new WorkQueue(handler, { clock, concurrency: 1 });
    queue.start();
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1_000);
    await settle();
    expect(clock.pendingTimers()).toBe(1);

    let stopped = false;
    const stopping = queue.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    expect(queue.depth()).toBe(0);

    calls[0]?.run.resolve({ requeueAfterMs: 10 });
    await stopping;
    expect(stopped).toBe(true);
    queue.add('d');
    await clock.advance(10_000);
    expect(calls.map((c) => c.key)).toEqual(['a']);
    expect(clock.pendingTimers()).toBe(0);
    expect(() => queue.start()).toThrow(/stopped/);
  });
});
