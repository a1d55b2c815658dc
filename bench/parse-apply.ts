// bench/parse-apply: the CPU of one 10,000-project apply without the HTTP and the
// controller around it: bench/scale's text parsed and validated (parseManifests), then
// written to a fresh FileStore (applyDocuments) with three watch listeners, as `luma up`
// has, all in this one process. CPU time (user + system, every thread) is steadier than
// wall time on a shared machine. The last column is the store's close after the apply:
// its final checkpoint fsyncs the object files that the journal let the apply skip.
//
//   npx tsx bench/parse-apply.ts [--projects 10000] [--rounds 3] [--parser both|fast|full] [--no-apply]
//
// `--parser both` alternates the two parsers round by round in the one process (an A/B
// pair per round): `fast` is parseManifests (plain-yaml.ts first, the full parser only
// when it declines or a document is refused), `full` is the position-keeping parser alone.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { applyDocuments } from '../src/apply/apply.js';
import { DEFAULT_SETTINGS } from '../src/config/settings.js';
import { parseManifests, parseManifestsWithPositions, type ParsedDocument } from '../src/model/parse.js';
import { FileStore } from '../src/store/file-store.js';
import { option } from './lib/common.js';
import { scaleManifests } from './lib/scale-manifests.js';

type Parser = 'fast' | 'full';
const PARSERS: Record<Parser, (text: string, source: string) => ParsedDocument[]> = {
  fast: parseManifests,
  full: parseManifestsWithPositions,
};

const PROJECTS = option('--projects', 10_000);
const ROUNDS = option('--rounds', 3);
const APPLY = !process.argv.includes('--no-apply');
const chosen = process.argv.includes('--parser') ? process.argv[process.argv.indexOf('--parser') + 1] : 'both';
const ORDER: Parser[] = chosen === 'both' ? ['full', 'fast'] : [chosen as Parser];
if (!ORDER.every((parser) => parser in PARSERS))
  throw new Error(`--parser: expected both, fast or full, got ${chosen}`);

/** Milliseconds of CPU (user + system, all threads) and of wall time that `work` took. */
async function measured<T>(
  work: () => Promise<T> | T,
): Promise<{ value: T; cpuMs: number; systemMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const began = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - began;
  return { value, cpuMs: (used.user + used.system) / 1000, systemMs: used.system / 1000, wallMs };
}

interface ApplyFigures {
  cpuMs: number;
  /** The kernel's share of cpuMs: the file system calls, on the libuv pool's threads. */
  systemMs: number;
  wallMs: number;
  /** Closing the store: its last checkpoint, the object files' fsyncs that the journal put off. */
  closeCpuMs: number;
}

/**
 * The rounds' state directories, removed only once every round is over: ext4 without a
 * journal passes over every inode freed in the last 30 s when it allocates one, so a round
 * that removed its 10,000 files made the next round's file creations scan them all (4x the
 * CPU of the first round, perf: find_inode_bit, recently_deleted). An apply to a new state
 * directory does not follow the removal of another.
 */
const stateDirs: string[] = [];

async function applyToFreshStore(documents: ParsedDocument[]): Promise<ApplyFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'luma-parse-apply-'));
  stateDirs.push(dir);
  const store = await FileStore.open(dir);
  for (let listener = 0; listener < 3; listener += 1) store.watch(() => undefined);
  const { cpuMs, systemMs, wallMs } = await measured(() =>
    applyDocuments(store, documents, { settings: DEFAULT_SETTINGS }),
  );
  const close = await measured(() => store.close());
  return { cpuMs, systemMs, wallMs, closeCpuMs: close.cpuMs };
}

async function round(parser: Parser, text: string): Promise<string> {
  const parse = await measured(() => PARSERS[parser](text, 'scale.yaml'));
  if (parse.value.length !== PROJECTS) throw new Error(`${parser}: ${parse.value.length} documents, not ${PROJECTS}`);
  const apply = APPLY ? await applyToFreshStore(parse.value) : { cpuMs: 0, systemMs: 0, wallMs: 0, closeCpuMs: 0 };
  const cells = [
    parse.cpuMs,
    apply.cpuMs,
    apply.systemMs,
    parse.cpuMs + apply.cpuMs,
    parse.wallMs + apply.wallMs,
    apply.closeCpuMs,
  ];
  return `| ${parser} | ${cells.map((ms) => (ms / 1000).toFixed(2)).join(' | ')} |`;
}

async function main(): Promise<void> {
  const text = scaleManifests(PROJECTS);
  process.stdout.write(
    `bench/parse-apply: ${PROJECTS} projects, ${ROUNDS} rounds, load average ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}\n\n`,
  );
  process.stdout.write(
    '| parser | parse CPU s | apply CPU s | of it system s | total CPU s | total wall s | then close CPU s |\n|---|---:|---:|---:|---:|---:|---:|\n',
  );
  try {
    for (let index = 0; index < ROUNDS; index += 1) {
      for (const parser of ORDER) process.stdout.write(`${await round(parser, text)}\n`);
    }
  } finally {
    for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\nload average at the end ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}\n`,
  );
}

await main();
