import { getPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { lowerThreadPriority } from '../../../src/util/thread-priority.js';

// Lowers its own priority and says what it is now (getPriority(0) reads the calling thread's).
const lowered = lowerThreadPriority(7);
parentPort?.postMessage({ lowered, nice: getPriority(0) });
