import type { ActivitySnapshot } from '../proxy/management.js';

// How many instances a project should run right now, and what becomes of the others.
// Pure, so it is tested with an injected clock; the reconciler feeds it the proxy's
// activity and the container state.

export interface ScalingInput {
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeoutMs: number;
  /** Freeze idle instances this long after the last request, before idleTimeout stops them. */
  pauseAfterMs?: number | undefined;
  activity: ActivitySnapshot | undefined;
  /** Instances serving now; kept while traffic is recent, so scale-down happens once, at idle. */
  serving: number;
  /**
   * Epoch ms since which the newest instance has been serving. After a controller restart
   * the proxy has no activity history, so the idle clock starts here instead of at zero.
   */
  servingSince: number | undefined;
  now: number;
}

export type SurplusAction = 'pause' | 'stop';

export interface ScalingDecision {
  /** Instances that should be running and receive traffic. */
  desired: number;
  /** What happens to instances beyond `desired`: frozen for a fast resume, or stopped. */
  surplus: SurplusAction;
  /** When to look again if nothing else happens (the next idle tier), epoch ms. */
  nextCheckAt: number | undefined;
  reason: 'min-instances' | 'held-requests' | 'concurrency' | 'recent-activity' | 'paused' | 'idle';
}

export function decideInstances(input: ScalingInput): ScalingDecision {
  const { minInstances, maxInstances, targetConcurrency, idleTimeoutMs, activity, now } = input;
  const cap = (count: number): number => Math.min(maxInstances, Math.max(minInstances, count));
  const waiting = activity?.waiting ?? 0;
  const inFlight = activity?.inFlight ?? 0;
  const load = waiting + inFlight;
  const byConcurrency = Math.ceil(load / Math.max(1, targetConcurrency));
  const pauseAfterMs =
    input.pauseAfterMs !== undefined && input.pauseAfterMs < idleTimeoutMs ? input.pauseAfterMs : undefined;

  const lastActive = Math.max(
    activity?.lastActivityAt ?? Number.NEGATIVE_INFINITY,
    input.servingSince ?? Number.NEGATIVE_INFINITY,
  );
  const quietFor = Number.isFinite(lastActive) ? now - lastActive : Number.POSITIVE_INFINITY;

  if (load > 0) {
    const desired = cap(Math.max(1, byConcurrency, input.serving));
    const reason =
      waiting > 0 && input.serving === 0
        ? 'held-requests'
        : byConcurrency > input.serving
          ? 'concurrency'
          : 'recent-activity';
    // Look again once this traffic could have gone idle, even if no event says so.
    return {
      desired,
      surplus: 'stop',
      nextCheckAt: desired > minInstances ? now + (pauseAfterMs ?? idleTimeoutMs) : undefined,
      reason,
    };
  }
  const awakeFor = pauseAfterMs ?? idleTimeoutMs;
  if (quietFor < awakeFor) {
    const desired = cap(Math.max(1, input.serving));
    return {
      desired,
      surplus: 'stop',
      nextCheckAt: desired > minInstances ? lastActive + awakeFor : undefined,
      reason: 'recent-activity',
    };
  }
  if (pauseAfterMs !== undefined && quietFor < idleTimeoutMs) {
    return { desired: cap(0), surplus: 'pause', nextCheckAt: lastActive + idleTimeoutMs, reason: 'paused' };
  }
  return {
    desired: cap(0),
    surplus: 'stop',
    nextCheckAt: undefined,
    reason: minInstances > 0 ? 'min-instances' : 'idle',
  };
}

/**
 * A wake a user asked for (`luma wake`, the console's Wake button) counts as a request
 * that arrived then: the project starts as for a first request, and its idle clock runs
 * from that moment unless a real request came later.
 */
export function withWakeAt(
  activity: ActivitySnapshot | undefined,
  wokenAt: number | undefined,
): ActivitySnapshot | undefined {
  if (wokenAt === undefined) return activity;
  return {
    inFlight: activity?.inFlight ?? 0,
    waiting: activity?.waiting ?? 0,
    lastActivityAt: Math.max(activity?.lastActivityAt ?? wokenAt, wokenAt),
  };
}
