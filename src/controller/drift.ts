import type { ManagedContainer } from '../runtime/runtime.js';

// Drift: a container found in another state than Luma left it in (stopped, paused or
// removed by hand, or an app that exited on its own). The reconcile puts back what the
// object declares; this says, for the event, what had drifted.

export interface LeftState {
  name: string;
  state: 'running' | 'paused' | 'stopped';
}

/**
 * What drifted, for the event (the caller adds what it does about it), or undefined when
 * the container is as Luma left it, or gone after Luma had stopped it (nothing was lost).
 */
export function describeDrift(left: LeftState, found: ManagedContainer | undefined): string | undefined {
  // Being removed, or left dead by a removal that failed: removed all the same.
  if (!found || found.state === 'removing' || found.state === 'dead') {
    if (left.state === 'stopped') return undefined;
    return `container ${left.name} was removed outside Luma (Luma had left it ${left.state})`;
  }
  const now =
    found.state === 'exited' || found.state === 'created'
      ? 'stopped'
      : found.state === 'running' || found.state === 'restarting'
        ? 'running'
        : found.state;
  if (now === left.state) return undefined;
  switch (now) {
    case 'stopped':
      return `container ${left.name} stopped without Luma asking (Luma had left it ${left.state})`;
    case 'paused':
      return `container ${left.name} was paused outside Luma (Luma had left it ${left.state})`;
    case 'running':
      return `container ${left.name} was started outside Luma (Luma had left it ${left.state})`;
    default:
      return `container ${left.name} is ${found.state} (Luma had left it ${left.state})`;
  }
}
