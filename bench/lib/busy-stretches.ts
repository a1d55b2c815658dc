import { readFile } from 'node:fs/promises';
import type { CpuProfile, ProfileNode } from './cpuprofile.js';

// The main thread's longest busy stretches in a V8 CPU profile (node --cpu-prof, or the
// inspector's Profiler): runs of consecutive samples that are not `(idle)`, i.e. time the
// event loop did not get back to its poll, with what ran in each. A proxy with a few
// clients in flight delays all of them by the longest stretch, so on a window of a few
// hundred requests the p99 is about the p50 plus that stretch: this is what to make small.
// A stretch also counts time the thread was runnable but had no core (its sample shows the
// frame it was preempted in), which the proxy's requests wait for just the same.

export type { CpuProfile };

export interface Stretch {
  /** Milliseconds from the window's start. */
  atMs: number;
  ms: number;
  /** The frames that took most of it, `name file:line` (Luma's, else any), with their ms. */
  top: Array<[string, number]>;
}

export interface WindowFigures {
  busyMs: number;
  gcMs: number;
  spanMs: number;
  /** Longest first. */
  stretches: Stretch[];
}

export async function readProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

/** The frame a sample is charged to: the innermost Luma frame on its stack, else its own. */
function chargedFrame(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const own = byId.get(id)?.callFrame;
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const frame = byId.get(current)?.callFrame;
    if (frame && /\/(src|dist)\//.test(frame.url) && !frame.url.includes('node_modules'))
      return `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(src|dist)\//, '$1/')}:${frame.lineNumber + 1}`;
  }
  if (!own) return '?';
  const where = own.url ? ` ${own.url.replace(/^.*\/node_modules\//, '')}:${own.lineNumber + 1}` : '';
  return `${own.functionName || '(anonymous)'}${where}`;
}

/** Busy time, GC and stretches of profile between fromUs and toUs (monotonic microseconds). */
export function windowFigures(profile: CpuProfile, fromUs: number, toUs: number, longest = 5): WindowFigures {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const stretches: Array<{ atUs: number; us: number; frames: Map<string, number> }> = [];
  let open: (typeof stretches)[number] | undefined;
  let busyUs = 0;
  let gcUs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    const name = byId.get(id)?.callFrame.functionName;
    if (name === '(idle)') {
      open = undefined;
      return;
    }
    busyUs += delta;
    if (name === '(garbage collector)') gcUs += delta;
    if (!open) {
      open = { atUs: at - delta, us: 0, frames: new Map() };
      stretches.push(open);
    }
    open.us += delta;
    const frame = chargedFrame(id, byId, parent);
    open.frames.set(frame, (open.frames.get(frame) ?? 0) + delta);
  });
  const top = stretches.sort((a, b) => b.us - a.us).slice(0, longest);
  return {
    busyMs: busyUs / 1000,
    gcMs: gcUs / 1000,
    spanMs: (toUs - fromUs) / 1000,
    stretches: top.map((stretch) => ({
      atMs: (stretch.atUs - fromUs) / 1000,
      ms: stretch.us / 1000,
      top: [...stretch.frames]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([frame, us]): [string, number] => [frame, us / 1000]),
    })),
  };
}

export function formatWindow(label: string, figures: WindowFigures): string {
  const f = (ms: number): string => ms.toFixed(1);
  const lines = [
    `${label}: ${f(figures.spanMs)} ms; main thread busy ${f(figures.busyMs)} ms (GC ${f(figures.gcMs)}); longest stretches ${figures.stretches.map((stretch) => f(stretch.ms)).join(', ')} ms`,
  ];
  for (const stretch of figures.stretches.slice(0, 3))
    lines.push(
      `    ${f(stretch.ms)} ms at +${f(stretch.atMs)}: ${stretch.top.map(([frame, ms]) => `${frame} ${f(ms)}`).join('; ')}`,
    );
  return lines.join('\n');
}
