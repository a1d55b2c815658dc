import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, fsyncDirectory } from '../util/atomic-file.js';
import { normaliseRecord, usageRecordProblem, type UsageRecord } from './record.js';

// The usage ledger: what every ended lease used and cost, one JSON line per lease in
// STATE/usage/ledger.jsonl. The file is only ever appended to, and each append is
// fsynced before it is acknowledged, so an acknowledged record survives any crash.
//
// A crash during an append can leave a partial last line (or zeros, on filesystems that
// grew the file before writing it). Such a torn tail was never acknowledged, so the
// caller will write the record again: at open it is cut off with a warning. A bad line
// *followed by good ones* cannot come from a crash (appends are sequential); it is
// damage that needs a person, and the ledger refuses to open, naming the line.
//
// A lease is billed once: append() refuses a second record with the same leaseUid, so
// a reconciler that crashed between appending and writing the lease's status can
// simply append again after restarting.

export { USAGE_REASONS, type UsageReason, type UsageRecord } from './record.js';
export { estimatedLeaseCost, leaseCost, roundCost, runtimeSecondsBetween, sumCosts } from './cost.js';
export { summariseUsage, type ProjectUsage, type UsageSummary, type UsageSums } from './summary.js';

/** Where the embedded default keeps the ledger, under its state directory. */
export function ledgerPath(stateDir: string): string {
  return path.join(stateDir, 'usage', 'ledger.jsonl');
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const NEWLINE = 0x0a;
const SHOWN_TORN_CHARS = 80;

export interface LedgerOptions {
  /** Told about a torn tail or a repeated record found at open; by default a process warning. */
  onWarning?: (message: string) => void;
}

/** The ledger file holds something that is neither records nor a torn tail. */
export class LedgerCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(
      `${file}:${line}: ${reason}; the usage ledger cannot be read past a damaged line (repair or remove that line, then start again)`,
    );
    this.name = 'LedgerCorruptError';
  }
}

interface Line {
  number: number;
  /** Byte offset of the line's first byte. */
  start: number;
  text: string;
}

interface LoadedLedger {
  records: UsageRecord[];
  warnings: string[];
  /** Bytes of good content; anything after it is a torn tail to cut. */
  goodBytes: number;
  /** The last good line has no newline yet: one must be written before the next record. */
  needsNewline: boolean;
}

function splitLines(content: Buffer): Line[] {
  const lines: Line[] = [];
  let start = 0;
  let number = 1;
  while (start < content.length) {
    const end = content.indexOf(NEWLINE, start);
    const stop = end === -1 ? content.length : end;
    lines.push({ number, start, text: content.subarray(start, stop).toString('utf8') });
    start = stop + 1;
    number += 1;
  }
  return lines;
}

function parseLine(text: string): { record: UsageRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const problem = usageRecordProblem(value);
  return problem === undefined ? { record: value as UsageRecord } : { problem: `not a usage record: ${problem}` };
}

function isBlank(text: string): boolean {
  return text.trim() === '';
}

function loadContent(file: string, content: Buffer): LoadedLedger {
  const lines = splitLines(content);
  const records: UsageRecord[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  let goodBytes = 0;
  let needsNewline = false;
  let firstBad: { line: Line; problem: string } | undefined;
  for (const line of lines) {
    if (isBlank(line.text)) continue;
    const parsed = parseLine(line.text);
    if ('problem' in parsed) {
      firstBad ??= { line, problem: parsed.problem };
      continue;
    }
    if (firstBad) throw new LedgerCorruptError(file, firstBad.line.number, firstBad.problem);
    const end = line.start + Buffer.byteLength(line.text);
    goodBytes = Math.min(end + 1, content.length);
    needsNewline = end === content.length;
    if (seen.has(parsed.record.leaseUid)) {
      warnings.push(
        `${file}:${line.number}: lease uid ${parsed.record.leaseUid} is recorded twice; the later record is ignored (a lease is billed once)`,
      );
      continue;
    }
    seen.add(parsed.record.leaseUid);
    records.push(Object.freeze(normaliseRecord(parsed.record)));
  }
  if (firstBad) {
    const torn = content.subarray(firstBad.line.start).toString('utf8');
    const shown = torn.length > SHOWN_TORN_CHARS ? `${torn.slice(0, SHOWN_TORN_CHARS)}…` : torn;
    warnings.push(
      `${file}:${firstBad.line.number}: ignored a torn last record (${content.length - firstBad.line.start} bytes, ${firstBad.problem}), ` +
        `left by a crash during an append that was never acknowledged; cut off: ${JSON.stringify(shown)}`,
    );
  } else {
    // Only blank lines may follow the last record; keep them, they are harmless.
    goodBytes = content.length;
  }
  return { records, warnings, goodBytes, needsNewline };
}

/**
 * What the controller bills into and the API and metrics read from: the file below
 * (the embedded default) or PostgreSQL (src/usage/postgres-ledger.ts).
 */
export interface Ledger {
  has(leaseUid: string): boolean;
  /** Oldest first; frozen records. */
  records(): readonly UsageRecord[];
  /** Resolves false, writing nothing, when the lease is billed already: a lease is billed once. */
  append(record: UsageRecord): Promise<boolean>;
  close(): Promise<void>;
}

export class UsageLedger implements Ledger {
  private readonly list: UsageRecord[];
  private readonly uids: Set<string>;
  /** Uids being written: a second append for one of them must not wait and write again. */
  private readonly pending = new Set<string>();
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    records: UsageRecord[],
    /** Problems found at open, also given to onWarning. */
    readonly warnings: readonly string[],
    /** Bytes of acknowledged content: a failed append is cut back to this. */
    private size: number,
  ) {
    this.list = records;
    this.uids = new Set(records.map((record) => record.leaseUid));
  }

  static async open(file: string, options: LedgerOptions = {}): Promise<UsageLedger> {
    const dir = path.dirname(file);
    const firstCreated = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // The new directory must survive a crash before the first record in it does.
    if (firstCreated !== undefined) await fsyncDirectory(path.dirname(firstCreated));

    let content: Buffer;
    let existed = true;
    try {
      content = await readFile(file);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      content = Buffer.alloc(0);
      existed = false;
    }
    const loaded = loadContent(file, content);
    const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, { code: 'LUMA_LEDGER' }));
    for (const warning of loaded.warnings) warn(warning);

    const handle = await open(file, 'a', FILE_MODE);
    try {
      let size = loaded.goodBytes;
      if (size < content.length) {
        await handle.truncate(size);
        await handle.sync();
      }
      if (loaded.needsNewline) {
        await writeAll(handle, Buffer.from('\n'));
        await handle.sync();
        size += 1;
      }
      if (!existed) await fsyncDirectory(dir);
      return new UsageLedger(file, handle, loaded.records, loaded.warnings, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  has(leaseUid: string): boolean {
    return this.uids.has(leaseUid);
  }

  records(): readonly UsageRecord[] {
    return this.list;
  }

  /**
   * Appends `record` durably. Resolves false, writing nothing, when a record for its
   * leaseUid is already in the ledger (or being written): a lease is billed once.
   */
  append(record: UsageRecord): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error(`the usage ledger ${this.file} is closed`));
    const problem = usageRecordProblem(record);
    if (problem !== undefined) return Promise.reject(new TypeError(`not a usage record: ${problem}`));
    if (this.uids.has(record.leaseUid) || this.pending.has(record.leaseUid)) return Promise.resolve(false);

    const entry = Object.freeze(normaliseRecord(record));
    this.pending.add(entry.leaseUid);
    const written = this.tail.then(() => this.write(entry));
    // The queue goes on after a failed append; the failure is the caller's to see.
    this.tail = written.catch(() => undefined);
    return written.then(
      () => {
        this.pending.delete(entry.leaseUid);
        return true;
      },
      (error: unknown) => {
        this.pending.delete(entry.leaseUid);
        throw error;
      },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.handle.close();
  }

  private async write(record: UsageRecord): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      await writeAll(this.handle, line);
      await this.handle.sync();
    } catch (error) {
      // A partly written line would turn into a damaged middle line after the next append.
      await this.handle.truncate(this.size).catch(() => undefined);
      throw error;
    }
    this.size += line.length;
    this.uids.add(record.leaseUid);
    this.list.push(record);
  }
}

/** The handle is in append mode: every write lands at the end, whatever the position. */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}
