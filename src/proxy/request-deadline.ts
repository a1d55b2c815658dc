import { Deadline, type Deadlines } from './http1/deadlines.js';

// A request's whole deadline (a project's spec.timeout): from its arrival at the proxy,
// hold and queue included, to its answer's last byte. Unlike the per-stage deadlines of a
// connection (headers, body, send, keep-alive: each a time without progress), this one is
// a total. Whatever stage the request is in tells the deadline what to do when it passes:
// a waiting request leaves its queue, a forwarded one stops, and the proxy answers 504 or
// cuts an answer that has begun. Kept on the proxy's shared deadline lists (one Node
// timer per duration), not a timer per request.

export class RequestDeadline {
  /** The deadline passed: whatever the request does next is too late. */
  expired = false;
  private action: (() => void) | undefined;
  private readonly deadline = new Deadline(() => {
    this.expired = true;
    const action = this.action;
    this.action = undefined;
    action?.();
  });

  constructor(readonly timeoutMs: number) {}

  start(deadlines: Deadlines): void {
    deadlines.arm(this.deadline, this.timeoutMs);
  }

  /** What the request's current stage does when the deadline passes (replaces the last); undefined: nothing. */
  whenExpired(action: (() => void) | undefined): void {
    this.action = action;
  }

  /** The request ended: the deadline will not fire. */
  cancel(): void {
    this.action = undefined;
    this.deadline.cancel();
  }
}
