import { stat } from 'node:fs/promises';
import type { Clock } from '../util/clock.js';
import { mapLimit } from '../util/map-limit.js';

// Which files are finished being written. A file is read only once its size and times have
// stayed still for `windowMs`: a slow copy, an editor that saves in place or
// `cat A > f; sleep 1; cat B >> f` must not be read half-written (its missing half would look
// deleted). Its own times say how long it has been still; one that changed within the
// window is looked at again when the window has passed, and is finished only if nothing
// moved. ctime counts as well as mtime: `cp -p` and `touch -d` set an old mtime, but every
// write moves ctime.

/** What is compared between two looks at a file. */
export interface FileMark {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export type StatFile = (file: string) => Promise<FileMark | undefined>;

export interface WriteFinishOptions {
  windowMs: number;
  /** Default: the system's time, with timers that keep the process alive (see keepAliveClock). */
  clock?: Clock;
  /** Follows symlinks; undefined when the file is gone. */
  stat?: StatFile;
}

export interface WriteFinishResult {
  /** Still since the window, with the mark seen: read them, and compare the mark after reading. */
  finished: Map<string, FileMark>;
  /** Changed while watched: look again after the window. */
  writing: string[];
  /** Gone between the listing and the look. */
  gone: string[];
}

/**
 * The system clock, but its timers keep the process alive: the first pass runs before
 * `luma up` listens on anything, and with nothing else pending an unref'd wait for a file
 * being written would let the process exit (with code 0) in the middle of it.
 */
export const keepAliveClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Looks at once: system calls overlap in the thread pool. */
const STAT_CONCURRENCY = 16;

export const statMark: StatFile = async (file) => {
  const info = await stat(file).catch(() => undefined);
  return info ? { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs } : undefined;
};

export function sameMark(a: FileMark | undefined, b: FileMark | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * Splits files into finished, still being written and gone. Waits at most one window (once
 * for all files that changed recently), so a pass is delayed only by recent writes.
 */
export async function awaitWriteFinish(files: string[], options: WriteFinishOptions): Promise<WriteFinishResult> {
  const statFile = options.stat ?? statMark;
  const clock = options.clock ?? keepAliveClock;
  const result: WriteFinishResult = { finished: new Map(), writing: [], gone: [] };
  const recent = new Map<string, FileMark>();
  let waitMs = 0;
  // Taken before the looks: a file is still for at least this long before its look.
  const lookedAt = clock.now();
  const marks = await mapLimit(files, STAT_CONCURRENCY, statFile);
  files.forEach((file, index) => {
    const mark = marks[index];
    if (!mark) {
      result.gone.push(file);
      return;
    }
    const stillForMs = lookedAt - Math.max(mark.mtimeMs, mark.ctimeMs);
    if (options.windowMs <= 0 || stillForMs >= options.windowMs) {
      result.finished.set(file, mark);
      return;
    }
    recent.set(file, mark);
    // A time ahead of our clock (another machine's, on a network filesystem) waits one window.
    waitMs = Math.max(waitMs, Math.min(options.windowMs, options.windowMs - stillForMs));
  });
  if (recent.size === 0) return result;
  await sleep(clock, waitMs);
  for (const [file, before] of recent) {
    const after = await statFile(file);
    if (!after) result.gone.push(file);
    else if (sameMark(before, after)) result.finished.set(file, after);
    else result.writing.push(file);
  }
  return result;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
