import { open, readFile, type FileHandle } from 'node:fs/promises';
import { isKind, type Kind, type LumaObject } from '../model/types.js';
import { errorCode } from '../util/atomic-file.js';
import { isPlainObject, nameProblem, shapeProblem } from './object-rules.js';

// The file store's write-ahead journal. A write is durable once its record is in the
// journal and the journal is fsynced; writes that arrive while one fsync runs share the
// next (group commit), so an apply of thousands of objects costs a few fsyncs, not one per
// object. The object files are written after that without an fsync of their own, and
// made durable later, in a checkpoint (file-store.ts); opening the store replays what the
// journal holds over them.
//
// Two files take turns: a checkpoint sends new records to the other one while it makes the
// first one's objects durable, then empties it. A record is one line of JSON; a line
// without its newline, or one that does not read, is the tail of a write that was never
// acknowledged (its fsync had not returned), and it ends that file's records.

export type JournalRecord = { put: LumaObject } | { remove: { kind: Kind; name: string; resourceVersion: string } };

export const JOURNAL_FILES = ['journal-0', 'journal-1'] as const;

/** The resourceVersion a record wrote, as a number: records replay in this order. */
export function recordRevision(record: JournalRecord): number {
  return Number('put' in record ? record.put.metadata.resourceVersion : record.remove.resourceVersion);
}

/** The records of one journal file up to its first torn or unreadable line; none when it is missing. */
export async function readJournal(file: string): Promise<JournalRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  const records: JournalRecord[] = [];
  const lines = text.split('\n');
  // The last piece has no newline after it: empty, or a torn tail.
  for (const line of lines.slice(0, -1)) {
    const record = parseRecord(line);
    if (!record) break;
    records.push(record);
  }
  return records;
}

const REVISION = /^[1-9][0-9]{0,15}$/;

function parseRecord(line: string): JournalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isPlainObject(value)) return undefined;
  if ('put' in value) {
    if (shapeProblem(value.put) !== undefined) return undefined;
    const { resourceVersion } = (value.put as LumaObject).metadata;
    return REVISION.test(String(resourceVersion)) ? (value as JournalRecord) : undefined;
  }
  if (!isPlainObject(value.remove)) return undefined;
  const { kind, name, resourceVersion } = value.remove;
  const valid = isKind(kind) && nameProblem(name) === undefined && REVISION.test(String(resourceVersion));
  return valid && typeof resourceVersion === 'string' ? (value as JournalRecord) : undefined;
}

/** One journal file open for appending, with group commit. */
export class JournalFile {
  private pending: string[] = [];
  /** The flush that takes `pending` once the running one ends, shared by every record queued until then. */
  private next: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();
  /**
   * Set when a flush failed: the file may end in part of a line now, after which no record
   * would ever be read again, so nothing more is appended to it.
   */
  private broken: unknown;
  /** Bytes appended since it was last emptied. */
  bytes = 0;

  private constructor(private readonly handle: FileHandle) {}

  static async open(file: string, mode: number): Promise<JournalFile> {
    const handle = await open(file, 'a', mode);
    await handle.chmod(mode);
    return new JournalFile(handle);
  }

  /** Resolves once `record` is on disk (its line written and fsynced). */
  append(record: JournalRecord): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const line = `${JSON.stringify(record)}\n`;
    this.pending.push(line);
    this.bytes += Buffer.byteLength(line);
    if (this.next) return this.next;
    const next = this.running.catch(() => undefined).then(() => this.flush());
    this.next = next;
    this.running = next;
    return next;
  }

  private async flush(): Promise<void> {
    // From here on, records need the flush after this one.
    this.next = undefined;
    const lines = this.pending;
    this.pending = [];
    if (this.broken !== undefined) throw this.broken;
    try {
      await this.handle.writeFile(lines.join(''));
      await this.handle.datasync();
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  /** Waits for every record appended so far to be on disk (or to have failed). */
  async settled(): Promise<void> {
    await (this.next ?? this.running).catch(() => undefined);
  }

  /** Empties the file durably; call only when nothing can be appended meanwhile. */
  async empty(): Promise<void> {
    await this.settled();
    if (this.broken !== undefined) throw this.broken;
    await this.handle.truncate(0);
    await this.handle.sync();
    this.bytes = 0;
  }

  async close(): Promise<void> {
    await this.settled();
    await this.handle.close();
  }
}
