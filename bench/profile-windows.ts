// bench/profile-windows: what the main thread of `luma up` did in each window of a
// `bench/scale --files N --cpu-prof DIR` run: its busy time, garbage collection, and longest
// busy stretches with what ran in them (lib/busy-stretches.ts).
//
//   npx tsx bench/profile-windows.ts DIR [--longest 5]
//
// The bench's clients delay a request by as long as the thread is held, so the longest
// stretch in a full pass's window against the one in the window without is the signal to
// compare builds with on a loaded machine, where the p99 itself moves with everyone else.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatWindow, readProfile, windowFigures, type CpuProfile, type WindowFigures } from './lib/busy-stretches.js';
import { option, percentile } from './lib/common.js';

interface PassWindow {
  label: string;
  fromUs: number;
  toUs: number;
}

/** `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`: the main threads (thread 0) that are not the scan's worker. */
async function mainThreadProfiles(dir: string): Promise<Array<{ file: string; profile: CpuProfile }>> {
  const found: Array<{ file: string; profile: CpuProfile }> = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'))) {
    if (file.split('.')[4] !== '0') continue;
    const profile = await readProfile(path.join(dir, file));
    if (profile.nodes.some((node) => node.callFrame.url.includes('scan-worker'))) continue;
    found.push({ file, profile });
  }
  return found;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('--')) throw new Error('usage: npx tsx bench/profile-windows.ts DIR [--longest 5]');
  const windows = JSON.parse(await readFile(path.join(dir, 'windows.json'), 'utf8')) as PassWindow[];
  const profiles = await mainThreadProfiles(dir);
  // The profile that covers the windows: `luma up`'s (the bench itself is not profiled).
  const first = windows[0];
  const main = profiles.find(
    ({ profile }) =>
      first !== undefined &&
      profile.startTime <= first.fromUs &&
      profile.startTime + profile.timeDeltas.reduce((sum, delta) => sum + delta, 0) >= first.toUs,
  );
  if (!main) throw new Error(`${dir}: no main-thread profile covers the windows in windows.json`);
  process.stdout.write(`${main.file}\n\n`);
  const byKind = new Map<string, WindowFigures[]>();
  for (const window of windows) {
    const figures = windowFigures(main.profile, window.fromUs, window.toUs, option('--longest', 5));
    process.stdout.write(`${formatWindow(window.label, figures)}\n`);
    const kind = window.label.split(' ')[0] ?? window.label;
    byKind.set(kind, [...(byKind.get(kind) ?? []), figures]);
  }
  process.stdout.write(
    '\n| window | windows | busy ms (median) | busy share | GC ms (median) | longest stretch (median / max) |\n|---|---:|---:|---:|---:|---:|\n',
  );
  for (const [kind, list] of byKind) {
    const longest = list.map((figures) => figures.stretches[0]?.ms ?? 0);
    const share = list.reduce((sum, figures) => sum + figures.busyMs, 0) / list.reduce((sum, f) => sum + f.spanMs, 0);
    process.stdout.write(
      `| ${kind} | ${list.length} | ${percentile(
        list.map((figures) => figures.busyMs),
        50,
      ).toFixed(1)} | ${(100 * share).toFixed(0)} % | ${percentile(
        list.map((figures) => figures.gcMs),
        50,
      ).toFixed(1)} | ${percentile(longest, 50).toFixed(1)} / ${Math.max(...longest).toFixed(1)} |\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`profile-windows: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
