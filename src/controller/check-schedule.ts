import FlatQueue from 'flatqueue';
import type { Clock } from '../util/clock.js';

// Runs periodic checks of many keys (liveness checks of every serving instance) with one
// timer for all of them: a min-heap of due times, and one clock timer armed for the
// earliest. At most `concurrency` checks run at once; keys that fall due while that many
// run wait their turn in the order they fell due. With thousands of instances that is
// one timer and a bounded number of sockets, not a timer and a socket per instance.

export class CheckSchedule<K> {
  private readonly heap = new FlatQueue<K>();
  /** Each scheduled key's due time: heap entries that disagree are stale (cancelled or moved) and skipped. */
  private readonly due = new Map<K, number>();
  private readonly ready: K[] = [];
  private running = 0;
  private timer: unknown;
  private timerAt: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly concurrency: number,
    /** One check; a rejection is the caller's bug, swallowed so the schedule goes on. */
    private readonly run: (key: K) => Promise<void>,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }

  /** Runs the key's check at `at` (epoch ms), replacing any time it was scheduled for. */
  schedule(key: K, at: number): void {
    this.due.set(key, at);
    this.heap.push(key, at);
    this.arm();
  }

  cancel(key: K): void {
    this.due.delete(key);
  }

  /** Keys waiting for their time (not those waiting for a free slot or running). */
  get size(): number {
    return this.due.size;
  }

  /** Checks running now. */
  get inFlight(): number {
    return this.running;
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
    this.due.clear();
    this.heap.clear();
    this.ready.length = 0;
  }

  private arm(): void {
    const next = this.nextDue();
    if (next === undefined) {
      this.clock.clearTimeout(this.timer);
      this.timerAt = undefined;
      return;
    }
    if (this.timerAt !== undefined && this.timerAt <= next) return;
    this.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, next - this.clock.now()));
  }

  /** The earliest live due time, dropping stale heap entries on the way. */
  private nextDue(): number | undefined {
    for (;;) {
      const key = this.heap.peek();
      const at = this.heap.peekValue();
      if (key === undefined || at === undefined) return undefined;
      if (this.due.get(key) === at) return at;
      this.heap.pop();
    }
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    const now = this.clock.now();
    for (let at = this.nextDue(); at !== undefined && at <= now; at = this.nextDue()) {
      const key = this.heap.pop() as K;
      this.due.delete(key);
      this.ready.push(key);
    }
    this.startReady();
    this.arm();
  }

  private startReady(): void {
    while (this.running < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as K;
      this.running += 1;
      void this.run(key)
        .catch(() => undefined)
        .finally(() => {
          this.running -= 1;
          this.startReady();
        });
    }
  }
}
