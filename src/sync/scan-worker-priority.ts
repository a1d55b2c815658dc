import { lowerProcessPriority } from '../util/thread-priority.js';

// The scan's worker process runs below the proxy (thread-priority.ts): every one of its
// threads, so that its garbage collection and compilation take only the CPU that requests
// leave. Its own module, imported first by scan-worker.ts, so that it runs before the
// others load.

/** The nice value of the scan's process. */
export const SCAN_PROCESS_NICE = 10;

lowerProcessPriority(SCAN_PROCESS_NICE);
