import { readFile } from 'node:fs/promises';

// Reads a V8 .cpuprofile (node --cpu-prof) and summarises where the time went: top
// functions by self and by inclusive time, and self time grouped by where the code lives.

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds, on the monotonic clock (process.hrtime). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Milliseconds since the profile started (about when the process started). */
export interface ProfileWindow {
  fromMs: number;
  toMs: number;
}

export interface ProfileRow {
  name: string;
  /** Microseconds. */
  selfUs: number;
  totalUs: number;
}

export interface ProfileSummary {
  /** Sampled time that was not idle, in microseconds. */
  busyUs: number;
  idleUs: number;
  functions: ProfileRow[];
  groups: ProfileRow[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortUrl(url: string): string {
  if (!url) return '';
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) return url.slice(nodeModules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (SPECIAL.has(name)) return name;
  const url = shortUrl(frame.url);
  return url ? `${name} ${url}:${frame.lineNumber + 1}` : `${name} (native)`;
}

/** Where the code lives: Luma, a dependency, a Node internal module, or V8 itself. */
function groupKey(frame: CallFrame): string {
  const name = frame.functionName;
  if (SPECIAL.has(name)) return name;
  const url = frame.url;
  if (!url) return '(native / builtins)';
  if (url.startsWith('node:')) {
    const module = /^node:(?:internal\/)?([^/]+(?:\/[^/]+)?)/.exec(url)?.[1] ?? url;
    return `node:${module.replace(/\.js$/, '')}`;
  }
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) return `dep:${url.slice(nodeModules + '/node_modules/'.length).split('/')[0] ?? url}`;
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `luma:${url.slice(dist + '/dist/'.length)}`;
  return shortUrl(url);
}

/** Only samples inside window count, when given (to leave out start-up and warm-up). */
export async function summariseProfile(file: string, window?: ProfileWindow): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const functions = new Map<string, ProfileRow>();
  const groups = new Map<string, ProfileRow>();
  const row = (table: Map<string, ProfileRow>, name: string): ProfileRow => {
    let found = table.get(name);
    if (!found) {
      found = { name, selfUs: 0, totalUs: 0 };
      table.set(name, found);
    }
    return found;
  };
  let busyUs = 0;
  let idleUs = 0;
  let elapsedUs = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    elapsedUs += delta;
    if (window && (elapsedUs < window.fromMs * 1000 || elapsedUs > window.toMs * 1000)) return;
    const node = byId.get(id);
    if (!node) return;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    busyUs += delta;
    row(functions, functionKey(node.callFrame)).selfUs += delta;
    row(groups, groupKey(node.callFrame)).selfUs += delta;
    // Inclusive time: once per distinct function (or group) on the sampled stack.
    const seenFunctions = new Set<string>();
    const seenGroups = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      const key = functionKey(frame);
      if (!seenFunctions.has(key)) {
        seenFunctions.add(key);
        row(functions, key).totalUs += delta;
      }
      const group = groupKey(frame);
      if (!seenGroups.has(group)) {
        seenGroups.add(group);
        row(groups, group).totalUs += delta;
      }
    }
  });
  return { busyUs, idleUs, functions: [...functions.values()], groups: [...groups.values()] };
}

export function formatProfile(summary: ProfileSummary, requests: number, top = 25): string {
  const perRequest = (us: number): string => (requests > 0 ? (us / requests).toFixed(2) : '-');
  const share = (us: number): string => ((100 * us) / summary.busyUs).toFixed(1);
  const lines: string[] = [];
  lines.push(
    `main thread busy ${(summary.busyUs / 1e6).toFixed(2)} s, idle ${(summary.idleUs / 1e6).toFixed(2)} s; ${requests} requests → ${perRequest(summary.busyUs)} µs busy per request ` +
      '(sampled wall time: includes the profiler itself and any time the thread was runnable but not running)',
    '',
    `Top ${top} functions by self time:`,
    '',
    '| self % | self µs/req | total % | function |',
    '|---:|---:|---:|---|',
  );
  for (const fn of [...summary.functions].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) {
    lines.push(`| ${share(fn.selfUs)} | ${perRequest(fn.selfUs)} | ${share(fn.totalUs)} | \`${fn.name}\` |`);
  }
  lines.push(
    '',
    'Self time by where the code lives:',
    '',
    '| self % | self µs/req | total % | code |',
    '|---:|---:|---:|---|',
  );
  for (const group of [...summary.groups].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) {
    lines.push(`| ${share(group.selfUs)} | ${perRequest(group.selfUs)} | ${share(group.totalUs)} | ${group.name} |`);
  }
  const luma = summary.functions.filter((fn) => fn.name.includes(' dist/')).sort((a, b) => b.totalUs - a.totalUs);
  lines.push(
    '',
    "Luma's own functions by inclusive time:",
    '',
    '| total % | total µs/req | self % | function |',
    '|---:|---:|---:|---|',
  );
  for (const fn of luma.slice(0, top))
    lines.push(`| ${share(fn.totalUs)} | ${perRequest(fn.totalUs)} | ${share(fn.selfUs)} | \`${fn.name}\` |`);
  return lines.join('\n');
}
