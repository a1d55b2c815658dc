import { readFile } from 'node:fs/promises';

// One process's resident memory and CPU time, from /proc (Linux).

const TICKS_PER_SECOND = 100;

export async function residentBytes(pid: number): Promise<number> {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU time of the process (all its threads), in milliseconds. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** The share of one core the process used over `ms`, in percent. */
export async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const before = await cpuMs(pid);
  const began = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (((await cpuMs(pid)) - before) / (Date.now() - began)) * 100;
}

export const MiB = 1024 * 1024;

export interface MemorySampler {
  /** Every reading so far: milliseconds since sampling began, and resident bytes. */
  readonly readings: ReadonlyArray<{ at: number; rss: number }>;
  stop(): void;
}

/**
 * Reads the process's resident memory every `everyMs` until stopped: a burst's peak, or
 * V8 growing and shrinking its heap, falls between readings taken at fixed moments.
 */
export function sampleResidentMemory(pid: number, everyMs: number): MemorySampler {
  const began = Date.now();
  const readings: Array<{ at: number; rss: number }> = [];
  const timer = setInterval(() => {
    residentBytes(pid).then(
      (rss) => readings.push({ at: Date.now() - began, rss }),
      () => undefined,
    );
  }, everyMs);
  return { readings, stop: () => clearInterval(timer) };
}
