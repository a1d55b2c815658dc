import { readFileSync, statSync } from 'node:fs';
import type { ReadText } from './scan.js';
import type { StatFile } from './write-finish.js';

// The scan's file system calls for its worker process (scan-worker.ts), made on its main
// thread itself. A promise-based readFile is four round trips to libuv's thread pool
// (open, fstat, read, close) with their allocations. Blocking is harmless there: nothing
// else waits on that process's event loop.

export const statNow: StatFile = (file) => {
  try {
    const info = statSync(file);
    return Promise.resolve({ size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs });
  } catch {
    return Promise.resolve(undefined);
  }
};

export const readNow: ReadText = (file) => {
  try {
    return Promise.resolve(readFileSync(file, 'utf8'));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
};
