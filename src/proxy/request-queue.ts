// The requests of one service that wait for a target: held while it has none (a cold
// start), or queued while every target is at its maxConcurrency. First come, first
// served: a freed slot goes to the request that has waited longest, never to one that
// arrived after it. Bounded: past `limit` waiters a request is refused (the proxy answers
// 429). Pure bookkeeping with an injected clock; the proxy decides when slots free up.

/** Told when the waiter got a target, and how long it waited for it. */
export type Granted<T> = (target: T, waitedMs: number) => void;

interface Entry<T> {
  granted: Granted<T>;
  since: number;
}

export class RequestQueue<T> {
  /** A Set keeps insertion order and lets a waiter leave from anywhere in O(1). */
  private readonly entries = new Set<Entry<T>>();

  constructor(private readonly now: () => number) {}

  get length(): number {
    return this.entries.size;
  }

  /**
   * Adds a waiter at the back unless `limit` already wait; returns what takes it out again
   * (a timeout, a client gone), or undefined when the queue is full.
   */
  enter(granted: Granted<T>, limit = Number.POSITIVE_INFINITY): (() => void) | undefined {
    if (this.entries.size >= limit) return undefined;
    const entry: Entry<T> = { granted, since: this.now() };
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  /**
   * Hands targets to waiters from the front while `take` finds one (take claims the slot
   * it returns); returns how many were served. A waiter leaves the queue before it is told.
   */
  dispatch(take: () => T | undefined): number {
    let served = 0;
    for (const entry of this.entries) {
      const target = take();
      if (target === undefined) break;
      this.entries.delete(entry);
      served++;
      entry.granted(target, this.now() - entry.since);
    }
    return served;
  }

  /** How long the front waiter has waited, in ms; 0 when none waits. */
  oldestWaitMs(): number {
    for (const entry of this.entries) return this.now() - entry.since;
    return 0;
  }
}
