import { readdirSync, readlinkSync } from 'node:fs';
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

/**
 * Lowers every thread of this process to `nice` (a process that only does background
 * work): Linux keeps a nice value per thread, and the threads V8 and libuv started before
 * this call (the garbage collector's and the compiler's helpers) would keep the old one.
 * Threads started later inherit it from the thread that starts them. False when the
 * system offers no way.
 */
export function lowerProcessPriority(nice: number): boolean {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`nice must be 0 to 19, got ${nice}`);
  if (process.platform !== 'linux') return false;
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    return false;
  }
  let lowered = false;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      lowered = true;
    } catch {
      // A thread that ended since the listing, or a sandbox that refuses.
    }
  }
  return lowered;
}
