import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

// Long work on the event loop that also serves traffic (in `luma up` the proxy runs in the
// same process as the watched directory's passes): the work calls the returned function
// between its steps, and it gives the loop back once `sliceMs` of work have gone by, so
// that a request waits for at most about one slice. Steps that await I/O give the loop
// back by themselves; steps that resolve at once (an apply that changes nothing) do not.

/** A pass gives the loop back this often: about a proxied request's own latency. */
export const PASS_SLICE_MS = 2;

export function yieldEvery(sliceMs: number, now: () => number = () => performance.now()): () => Promise<void> {
  let sliceBegan = now();
  return async () => {
    if (now() - sliceBegan < sliceMs) return;
    // setImmediate runs after the I/O callbacks that are ready: pending requests go first.
    await nextTurn();
    sliceBegan = now();
  };
}
