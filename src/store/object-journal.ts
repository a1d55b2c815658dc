import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, fsyncDirectory } from '../util/atomic-file.js';
import { mapLimit } from '../util/map-limit.js';
import type { Kind, LumaObject } from '../model/types.js';
import { JOURNAL_FILES, JournalFile, readJournal, recordRevision, type JournalRecord } from './write-journal.js';

// The file store's writes through its journal (write-journal.ts): a write is acknowledged
// once its record is fsynced in the journal, then its object file is overwritten in place
// without an fsync. A checkpoint, once the journal holds CHECKPOINT_BYTES, sends new
// records to the other journal file, fsyncs every object file the first one's records
// touched and their directories, and only then empties it. So at any moment, every
// acknowledged write is either in a journal file or durable in its own, and an object
// file changed since the last checkpoint (possibly torn by a crash) always has a record
// in the journal at least as new as itself: opening the store takes the journal's word.
//
// In place, not a temporary file renamed over the object: each rename freed the old
// file's inode, and ext4 without a journal (as on this project's VMs) skips every inode
// freed in the last 30 s when it allocates one, reading the inode table for each
// (find_inode_bit, recently_deleted). A controller rewriting thousands of statuses then
// paid for every one of them at each new file: most of the CPU of a 10,000-project
// apply was that scan (perf, bench/parse-apply).

/** Journal bytes after which a checkpoint makes the object files durable and empties it. */
export const CHECKPOINT_BYTES = 8 * 1024 * 1024;
/** Object files fsynced at once by a checkpoint. */
const CHECKPOINT_FSYNCS_IN_FLIGHT = 16;

export interface ObjectJournalOptions {
  mode: number;
  checkpointBytes?: number;
  /** Told when a checkpoint fails; its records stay in their file and are replayed at the next open. */
  onCheckpointError?: (error: unknown) => void;
}

export class ObjectJournal {
  private active: JournalFile;
  /** Object files written or removed since the last checkpoint began (or failed). */
  private dirty = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /**
   * Set when an object file could not be changed: it may be torn now, and only the
   * journal's record of it says what it should hold, so no journal file is emptied again
   * in this process; the next open replays them all.
   */
  private fileFailed = false;

  private constructor(
    private readonly files: [JournalFile, JournalFile],
    private readonly options: ObjectJournalOptions,
  ) {
    this.active = files[0];
  }

  /** Opens both journal files for appending; call after replayJournal has emptied them. */
  static async open(stateDir: string, options: ObjectJournalOptions): Promise<ObjectJournal> {
    const [first, second] = JOURNAL_FILES.map((name) => path.join(stateDir, name));
    const files: [JournalFile, JournalFile] = [
      await JournalFile.open(first ?? '', options.mode),
      await JournalFile.open(second ?? '', options.mode),
    ];
    await fsyncDirectory(stateDir);
    return new ObjectJournal(files, options);
  }

  /**
   * Writes `data` to `file` once the record of it is durable; resolves when both are done.
   * `created`: the store held no such object, so no file should be there to keep a block of.
   */
  put(record: JournalRecord, file: string, data: string, created = false): Promise<void> {
    return this.track(record, file, () => overwriteFile(file, data, this.options.mode, created));
  }

  /** Removes `file` once the record of its removal is durable. */
  remove(record: JournalRecord, file: string): Promise<void> {
    return this.track(record, file, () => unlinkIfPresent(file));
  }

  /**
   * Waits for every write and checkpoint under way, makes every object file durable and
   * empties the journal, so that a store closed cleanly is all in its object files.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.checkpointing;
    try {
      if (this.fileFailed) return;
      await makeDurable(this.dirty);
      this.dirty.clear();
      for (const file of this.files) await file.empty();
    } finally {
      for (const file of this.files) await file.close();
    }
  }

  private async track(record: JournalRecord, file: string, change: () => Promise<void>): Promise<void> {
    const journal = this.active;
    this.dirty.add(file);
    const done = journal.append(record).then(() =>
      change().catch((error: unknown) => {
        this.fileFailed = true;
        throw error;
      }),
    );
    this.inFlight.add(done);
    try {
      await done;
    } finally {
      this.inFlight.delete(done);
      this.maybeCheckpoint();
    }
  }

  private maybeCheckpoint(): void {
    if (this.checkpointing || this.fileFailed || this.active.bytes < (this.options.checkpointBytes ?? CHECKPOINT_BYTES))
      return;
    this.checkpointing = this.checkpoint()
      .catch((error: unknown) => this.options.onCheckpointError?.(error))
      .finally(() => {
        this.checkpointing = undefined;
      });
  }

  private async checkpoint(): Promise<void> {
    const old = this.active;
    this.active = old === this.files[0] ? this.files[1] : this.files[0];
    const dirty = this.dirty;
    this.dirty = new Set();
    // Writes recorded in the old file may still be replacing their object files.
    await Promise.allSettled([...this.inFlight]);
    try {
      await makeDurable(dirty);
      if (this.fileFailed)
        throw new Error('an object file could not be written; the journal is kept for the next open');
      await old.empty();
    } catch (error) {
      // Its records stay where they are; the files they touched are made durable by the next checkpoint.
      for (const file of dirty) this.dirty.add(file);
      throw error;
    }
  }
}

/** The records of both journal files in `stateDir`, oldest first. */
export async function readJournalRecords(stateDir: string): Promise<JournalRecord[]> {
  const records: JournalRecord[] = [];
  for (const name of JOURNAL_FILES) records.push(...(await readJournal(path.join(stateDir, name))));
  return records.sort((a, b) => recordRevision(a) - recordRevision(b));
}

export const objectKey = (kind: Kind, name: string): string => `${kind}/${name}`;

export function recordKey(record: JournalRecord): string {
  return 'put' in record
    ? objectKey(record.put.kind, record.put.metadata.name)
    : objectKey(record.remove.kind, record.remove.name);
}

/**
 * Applies every record newer than what `objects` (by objectKey) holds, in order; returns
 * the keys whose object changed, whose files must be rewritten or removed.
 */
export function replayRecords(records: JournalRecord[], objects: Map<string, LumaObject>): Set<string> {
  const changed = new Set<string>();
  for (const record of records) {
    const key = recordKey(record);
    const current = objects.get(key);
    if (current && Number(current.metadata.resourceVersion) >= recordRevision(record)) continue;
    if ('put' in record) objects.set(key, record.put);
    else objects.delete(key);
    changed.add(key);
  }
  return changed;
}

/** Empties the journal files durably once what they held is durable in the object files. */
export async function emptyJournalFiles(stateDir: string): Promise<void> {
  for (const name of JOURNAL_FILES) {
    const file = path.join(stateDir, name);
    try {
      const handle = await open(file, 'r+');
      try {
        await handle.truncate(0);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
}

/** fsyncs each file that still exists, then each of their directories. */
export async function makeDurable(files: Iterable<string>): Promise<void> {
  const list = [...files];
  await mapLimit(list, CHECKPOINT_FSYNCS_IN_FLIGHT, fsyncIfPresent);
  for (const dir of new Set(list.map((file) => path.dirname(file)))) await fsyncDirectory(dir);
}

async function fsyncIfPresent(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `data` written over `file` from its start, then the file cut to its length. Not fsynced.
 * Written before cutting, so that an object that stays within its disk block keeps it:
 * truncating to zero first would free the block (a discard on this project's disks). A
 * file expected not to exist is emptied as it opens instead, which saves the call.
 */
async function overwriteFile(file: string, data: string, mode: number, created: boolean): Promise<void> {
  const { O_WRONLY, O_CREAT, O_TRUNC } = constants;
  const handle = await open(file, created ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT, mode);
  try {
    // A handle just opened is at the file's start; writeFile writes all of it from there.
    await handle.writeFile(data);
    if (!created) await handle.truncate(Buffer.byteLength(data));
  } finally {
    await handle.close();
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}
