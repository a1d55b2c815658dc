import { readdirSync, readFileSync } from 'node:fs';

// Where a process's CPU went, thread by thread, from the kernel's own accounts
// (/proc/PID/task/TID/schedstat: nanoseconds on a core, nanoseconds runnable but waiting
// for one). For `luma up` during a sync pass: its main thread (the proxy's loop) on a core,
// and waiting for one, against a window without a pass; its other threads; and its child
// processes (the scan's worker). CPU time hardly depends on what else the machine runs, and
// the wait is exactly what a busy scan takes from the proxy, so both compare builds on a
// loaded machine where latencies move with everyone else's work.

export interface ThreadTimes {
  /** The main thread (the event loop): on a core, and runnable but waiting for one. */
  mainCpuMs: number;
  mainWaitMs: number;
  /** Every other thread of the process (libuv's pool, V8's compiler and GC helpers). */
  otherCpuMs: number;
  /** By child process (the scan's worker), all its threads. */
  children: Map<number, number>;
}

/** [on a core, waiting] in ms; undefined when the thread is gone. */
function schedstat(pid: number, tid: number): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
    return [(run ?? 0) / 1e6, (wait ?? 0) / 1e6];
  } catch {
    return undefined;
  }
}

function tasks(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

function childPids(pid: number): number[] {
  return tasks(pid).flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

function processCpuMs(pid: number): number {
  return tasks(pid).reduce((sum, tid) => sum + (schedstat(pid, tid)?.[0] ?? 0), 0);
}

/** Undefined where /proc has no schedstat (not Linux). */
export function readThreadTimes(pid: number): ThreadTimes | undefined {
  const main = schedstat(pid, pid);
  if (!main) return undefined;
  const otherCpuMs = tasks(pid)
    .filter((tid) => tid !== pid)
    .reduce((sum, tid) => sum + (schedstat(pid, tid)?.[0] ?? 0), 0);
  return {
    mainCpuMs: main[0],
    mainWaitMs: main[1],
    otherCpuMs,
    children: new Map(childPids(pid).map((child) => [child, processCpuMs(child)])),
  };
}

export interface ThreadTimesDelta {
  mainCpuMs: number;
  mainWaitMs: number;
  otherCpuMs: number;
  /** A child started in the window counts whole; one that ended in it is missed. */
  childrenCpuMs: number;
}

export function threadTimesDelta(before: ThreadTimes, after: ThreadTimes): ThreadTimesDelta {
  let childrenCpuMs = 0;
  for (const [child, cpu] of after.children) childrenCpuMs += cpu - (before.children.get(child) ?? 0);
  return {
    mainCpuMs: after.mainCpuMs - before.mainCpuMs,
    mainWaitMs: after.mainWaitMs - before.mainWaitMs,
    otherCpuMs: after.otherCpuMs - before.otherCpuMs,
    childrenCpuMs,
  };
}
