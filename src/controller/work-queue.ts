// A Kubernetes-style work queue of object keys. Reconcilers are level-triggered, so a key
// only says "look at this object again": many adds collapse into one run, one key is never
// reconciled twice at once, and failures come back later with exponential backoff.

import { systemClock, type Clock } from '../util/clock.js';

export { systemClock, type Clock };

export type ReconcileResult = void | { requeueAfterMs?: number };

export type ReconcileHandler = (key: string) => Promise<ReconcileResult>;

/**
 * Called for each failed run. `attempt` counts consecutive failures of the key; `delayMs`
 * is when it is retried, undefined for a terminal error (not retried).
 */
export type WorkQueueErrorHandler = (key: string, error: unknown, attempt: number, delayMs: number | undefined) => void;

export interface WorkQueueOptions {
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  onError?: WorkQueueErrorHandler;
  /** An error for which retrying cannot help (a broken Dockerfile): the key is not retried. */
  isTerminal?: (error: unknown) => boolean;
}

export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_BASE_BACKOFF_MS = 200;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
/** Node fires timers longer than this at once; longer delays are clamped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type QueueState = 'created' | 'started' | 'stopped';

type Outcome = { ok: true; result: ReconcileResult } | { ok: false; error: unknown };

export class WorkQueue {
  private readonly concurrency: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly clock: Clock;
  /** Keys ready to run, oldest first; a Set so that adding a waiting key does nothing. */
  private readonly waiting = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  /** Keys added while their handler runs: they run once more when it finishes. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private state: QueueState = 'created';

  constructor(
    private readonly handler: ReconcileHandler,
    private readonly options: WorkQueueOptions = {},
  ) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
    this.baseBackoffMs = Math.max(0, options.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS);
    this.maxBackoffMs = Math.max(this.baseBackoffMs, options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    this.clock = options.clock ?? systemClock;
  }

  /** Runs `key` as soon as a slot is free (keys added before start() wait for it). */
  add(key: string): void {
    if (this.state === 'stopped') return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.waiting.add(key);
    this.pump();
  }

  /** Adds `key` after `delayMs`; if it is already scheduled sooner, the sooner time stands. */
  addAfter(key: string, delayMs: number): void {
    if (this.state === 'stopped') return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const delay = Math.min(delayMs, MAX_TIMER_MS);
    const at = this.clock.now() + delay;
    const existing = this.timers.get(key);
    if (existing) {
      if (existing.at <= at) return;
      this.clock.clearTimeout(existing.handle);
    }
    const timer = { at, handle: undefined as unknown };
    timer.handle = this.clock.setTimeout(() => {
      if (this.timers.get(key) !== timer) return;
      this.timers.delete(key);
      this.add(key);
    }, delay);
    this.timers.set(key, timer);
  }

  start(): void {
    if (this.state === 'stopped') throw new Error('a stopped work queue cannot be started again');
    this.state = 'started';
    this.pump();
  }

  /** Takes no new work, cancels timers and waits for the running handlers to finish. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer.handle);
    this.timers.clear();
    this.waiting.clear();
    this.dirty.clear();
    await Promise.all(this.running.values());
  }

  /** Keys waiting to run, including those re-added while running; delayed keys are not counted. */
  depth(): number {
    return this.waiting.size + this.dirty.size;
  }

  inFlight(): number {
    return this.running.size;
  }

  private pump(): void {
    if (this.state !== 'started') return;
    for (const key of this.waiting) {
      if (this.running.size >= this.concurrency) return;
      this.waiting.delete(key);
      this.run(key);
    }
  }

  private run(key: string): void {
    const done = Promise.resolve()
      .then(() => this.handler(key))
      .then(
        (result): Outcome => ({ ok: true, result }),
        (error: unknown): Outcome => ({ ok: false, error }),
      )
      .then((outcome) => this.finish(key, outcome));
    this.running.set(key, done);
  }

  private finish(key: string, outcome: Outcome): void {
    this.running.delete(key);
    if (this.state === 'stopped') return;
    const addedWhileRunning = this.dirty.delete(key);

    if (outcome.ok) {
      this.failures.delete(key);
      const requeueAfterMs = outcome.result ? outcome.result.requeueAfterMs : undefined;
      // The run that follows an add will decide its own requeue.
      if (addedWhileRunning) this.waiting.add(key);
      else if (typeof requeueAfterMs === 'number' && !Number.isNaN(requeueAfterMs)) this.addAfter(key, requeueAfterMs);
    } else {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      if (this.terminal(outcome.error)) {
        this.failures.delete(key);
        this.report(key, outcome.error, attempt, undefined);
        // Retrying the same input is futile, but an add during the run may bring a new one.
        if (addedWhileRunning) this.waiting.add(key);
      } else {
        this.failures.set(key, attempt);
        const delayMs = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (attempt - 1));
        this.report(key, outcome.error, attempt, delayMs);
        // An add during a failing run waits for the backoff too: a reconciler that writes
        // status before failing would otherwise re-add itself and retry in a hot loop.
        this.addAfter(key, delayMs);
      }
    }
    this.pump();
  }

  private terminal(error: unknown): boolean {
    try {
      return this.options.isTerminal?.(error) ?? false;
    } catch {
      return false;
    }
  }

  private report(key: string, error: unknown, attempt: number, delayMs: number | undefined): void {
    try {
      this.options.onError?.(key, error, attempt, delayMs);
    } catch {
      // A broken error reporter must not stop the queue.
    }
  }
}
