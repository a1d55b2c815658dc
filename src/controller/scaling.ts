import type { ActivitySnapshot } from '../proxy/management.js';

// How many instances a project should run right now. Pure, so it is tested with an
// injected clock; the reconciler feeds it the proxy's activity and the container state.

export interface ScalingInput {
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeoutMs: number;
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

export interface ScalingDecision {
  desired: number;
  /** When the instances above minInstances become idle, if nothing else arrives. */
  idleAt: number | undefined;
  reason: 'min-instances' | 'held-requests' | 'concurrency' | 'recent-activity' | 'idle';
}

export function decideInstances(input: ScalingInput): ScalingDecision {
  const { minInstances, maxInstances, targetConcurrency, idleTimeoutMs, activity, now } = input;
  const cap = (count: number): number => Math.min(maxInstances, Math.max(minInstances, count));
  const waiting = activity?.waiting ?? 0;
  const inFlight = activity?.inFlight ?? 0;
  const load = waiting + inFlight;
  const byConcurrency = Math.ceil(load / Math.max(1, targetConcurrency));

  const lastActive = Math.max(activity?.lastActivityAt ?? Number.NEGATIVE_INFINITY, input.servingSince ?? Number.NEGATIVE_INFINITY);
  const recentlyActive = Number.isFinite(lastActive) && now - lastActive < idleTimeoutMs;

  if (load > 0) {
    const desired = cap(Math.max(1, byConcurrency, input.serving));
    const reason = waiting > 0 && input.serving === 0 ? 'held-requests' : byConcurrency > input.serving ? 'concurrency' : 'recent-activity';
    return { desired, idleAt: undefined, reason };
  }
  if (recentlyActive) {
    const desired = cap(Math.max(1, input.serving));
    return { desired, idleAt: desired > minInstances ? lastActive + idleTimeoutMs : undefined, reason: 'recent-activity' };
  }
  return { desired: cap(0), idleAt: undefined, reason: minInstances > 0 ? 'min-instances' : 'idle' };
}
