import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

// Background work in a worker thread yields the CPU to the threads that serve requests:
// on a machine of two cores, a scan at the same priority as the proxy's thread takes half
// of what the proxy, its backends and its clients share. Linux gives each thread its own
// nice value, set through the thread's id (found at /proc/thread-self); elsewhere the
// thread keeps the process's priority.

/** Lowers the calling thread's priority to `nice` (0 to 19); false when the system offers no way. */
export function lowerThreadPriority(nice: number): boolean {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`nice must be 0 to 19, got ${nice}`);
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    // No /proc, or a sandbox that refuses: the scan runs at the process's priority.
    return false;
  }
}
