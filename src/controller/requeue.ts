import type { ReconcileResult } from './work-queue.js';

// When each reconciler looks again without an event to wake it. One place, so that the
// project, lease and pool reconcilers agree, and a newcomer finds every clock at once.

/** Do not poll a deadline (idle, TTL, crash backoff) more often than this. */
export const MIN_REQUEUE_MS = 50;
/** How long an image that is missing waits before it is looked for again. */
export const IMAGE_RECHECK_MS = 5_000;
/** A start refused for memory is asked again this often; its requests are held meanwhile. */
export const ADMISSION_RETRY_MS = 1_000;

/** Look again after `ms`. */
export function requeueAfter(ms: number): ReconcileResult {
  return { requeueAfterMs: ms };
}

/** Look again once the clock has passed `at` (never sooner than MIN_REQUEUE_MS). */
export function requeueAt(at: number, now: number): ReconcileResult {
  return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, at - now) };
}
