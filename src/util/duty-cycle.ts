import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

// Background work that must leave the CPU to the threads serving requests even when the
// machine has few cores: a lower nice value only says who goes first when two threads want
// the same core, and on two cores a worker that never stops keeps one of them, while the
// proxy, its backends, their clients and the garbage collector's helper threads (which
// keep the process's priority) share the other. The work calls the returned function
// between its steps; once `workMs` have gone by it sleeps `restMs`, so it takes at most
// workMs / (workMs + restMs) of one core.

export interface DutyCycle {
  workMs: number;
  restMs: number;
}

/**
 * Steps may call it concurrently (several files in flight): those that arrive during a
 * rest wait for the same rest, and the next slice starts when it ends.
 */
export function pacedBy(cycle: DutyCycle, now: () => number = () => performance.now()): () => Promise<void> {
  if (!(cycle.workMs > 0) || !(cycle.restMs >= 0))
    throw new RangeError(`duty cycle: workMs must be > 0 and restMs >= 0, got ${cycle.workMs} and ${cycle.restMs}`);
  let sliceBegan = now();
  let resting: Promise<void> | undefined;
  return () => {
    if (resting) return resting;
    if (now() - sliceBegan < cycle.workMs) return Promise.resolve();
    resting = sleep(cycle.restMs).then(() => {
      resting = undefined;
      sliceBegan = now();
    });
    return resting;
  };
}
