import type { Clock } from '../util/clock.js';
import { scanDirectory, type DirectoryScan, type KnownFile } from './scan.js';

// How a pass reads the watched directory. `luma up` scans in a worker process
// (scan-process.ts), so that reading and parsing a thousand files does not hold the event
// loop that serves the proxy's requests; tests that drive the write-finish window with a
// fake clock scan in this process (InProcessScanner), where that clock can reach.

export interface ScanRequest {
  /** sync.writeFinish: a file is read once it has been still this long. */
  writeFinishMs: number;
  /** What the files that need not be applied again held when they were (applied-files.ts). */
  known: ReadonlyMap<string, KnownFile>;
}

export interface DirectoryScanner {
  /** Rejects when the directory cannot be read as a whole: the pass then applies and prunes nothing. */
  scan(dir: string, request: ScanRequest): Promise<DirectoryScan>;
  close(): Promise<void>;
}

export class InProcessScanner implements DirectoryScanner {
  constructor(private readonly clock?: Clock) {}

  scan(dir: string, request: ScanRequest): Promise<DirectoryScan> {
    return scanDirectory(dir, { ...request, ...(this.clock ? { clock: this.clock } : {}) });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
