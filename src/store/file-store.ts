import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { KINDS, type Kind, type LumaObject, type ObjectMeta, type ObjectOfKind } from '../model/types.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { errorCode, fsyncDirectory, removeTempFiles, writeFileAtomic } from '../util/atomic-file.js';
import { isPlainObject, shapeProblem, withResourceVersion, type Decision } from './object-rules.js';
import { DecidingStore } from './deciding-store.js';
import { WatchListeners } from './watch-listeners.js';
import {
  emptyJournalFiles,
  makeDurable,
  objectKey,
  ObjectJournal,
  readJournalRecords,
  recordKey,
  replayRecords,
} from './object-journal.js';
import { recordRevision } from './write-journal.js';
import type { ObjectStore, WatchEvent, WatchEventType, WatchListener } from './store.js';

// The embedded default store: one JSON file per object under `<stateDir>/objects/<kind>/`,
// all of them held in memory so that reads never touch the disk. The disk is written
// first and memory changed only once the write succeeded, so the two never disagree. A
// write is durable once its journal record is (object-journal.ts): the object files are
// made durable in batches, and opening the store replays the journal over them.

export const OBJECTS_DIR = 'objects';
export const REVISION_FILE = 'store-revision';
/** Objects may carry env values that are secrets. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface FileStoreOptions {
  /** Told when a watch listener throws; by default a process warning is emitted. */
  onListenerError?: (error: unknown, event: WatchEvent) => void;
  /**
   * Finalizers every new object of a kind starts with (a mutating admission rule, as in
   * Kubernetes): a lease created and deleted at once still waits for its clean-up, and
   * the controller saves a write on the way to its first container.
   */
  initialFinalizers?: Partial<Record<Kind, string[]>>;
  /** Journal bytes between checkpoints (object-journal.ts); tests set it small. */
  journalCheckpointBytes?: number;
}

/** A file in the state directory that cannot be loaded; the store refuses to open. */
export class StoreLoadError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'StoreLoadError';
  }
}

export class FileStore extends DecidingStore implements ObjectStore {
  private readonly objects = new Map<Kind, Map<string, LumaObject>>();
  private readonly listeners: WatchListeners;
  private readonly objectLocks = new KeyedLock();
  /** Writes of the revision file, one at a time so that the file only ever grows. */
  private revisionWrites: Promise<void> = Promise.resolve();
  /** The highest resourceVersion handed out (possibly never used, after a failed write). */
  private allocatedRevision: number;
  /** The highest resourceVersion known to be on disk. */
  private persistedRevision: number;
  private closed = false;

  private constructor(
    readonly stateDir: string,
    revision: number,
    objects: Iterable<LumaObject>,
    private readonly journal: ObjectJournal,
    private readonly options: FileStoreOptions,
  ) {
    super();
    this.listeners = new WatchListeners(options.onListenerError);
    this.allocatedRevision = revision;
    this.persistedRevision = revision;
    for (const kind of KINDS) this.objects.set(kind, new Map());
    for (const object of objects) this.bucket(object.kind).set(object.metadata.name, object);
  }

  static async open(stateDir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const objectsDir = path.join(stateDir, OBJECTS_DIR);
    await mkdir(stateDir, { recursive: true, mode: DIR_MODE });
    await mkdir(objectsDir, { recursive: true, mode: DIR_MODE });
    for (const kind of KINDS) await mkdir(path.join(objectsDir, kindDir(kind)), { recursive: true, mode: DIR_MODE });
    // The directories just created must survive a crash before the first object does.
    await fsyncDirectory(stateDir);
    await fsyncDirectory(objectsDir);

    await removeTempFiles(stateDir);
    const records = await readJournalRecords(stateDir);
    const objects = await loadObjectFiles(objectsDir, new Set(records.map(recordKey)));
    const changed = replayRecords(records, objects);
    await rewriteReplayed(stateDir, changed, objects);
    await emptyJournalFiles(stateDir);
    let revision = await readRevisionFile(path.join(stateDir, REVISION_FILE));
    for (const object of objects.values()) revision = Math.max(revision, Number(object.metadata.resourceVersion));
    for (const record of records) revision = Math.max(revision, recordRevision(record));
    const journal = await ObjectJournal.open(stateDir, {
      mode: FILE_MODE,
      checkpointBytes: options.journalCheckpointBytes,
      onCheckpointError: (error) => process.emitWarning(`store journal checkpoint failed: ${String(error)}`),
    });
    return new FileStore(stateDir, revision, objects.values(), journal, options);
  }

  get<K extends Kind>(kind: K, name: string): ObjectOfKind<K> | undefined {
    const object = this.objects.get(kind)?.get(name);
    return object === undefined ? undefined : (structuredClone(object) as ObjectOfKind<K>);
  }

  metadata(kind: Kind, name: string): ObjectMeta | undefined {
    const object = this.objects.get(kind)?.get(name);
    return object === undefined ? undefined : structuredClone(object.metadata);
  }

  resourceVersion(kind: Kind, name: string): string | undefined {
    return this.objects.get(kind)?.get(name)?.metadata.resourceVersion;
  }

  has(kind: Kind, name: string): boolean {
    return this.objects.get(kind)?.has(name) ?? false;
  }

  names(kind: Kind): string[] {
    return [...(this.objects.get(kind)?.keys() ?? [])].sort();
  }

  list<K extends Kind>(kind: K): ObjectOfKind<K>[] {
    const bucket = this.objects.get(kind);
    if (!bucket) return [];
    return [...bucket.keys()].sort().map((name) => structuredClone(bucket.get(name)) as ObjectOfKind<K>);
  }

  protected initialFinalizers(kind: Kind): string[] | undefined {
    return this.options.initialFinalizers?.[kind];
  }

  /** Carries out what a write decides on the object as stored, in turn with its other writes. */
  protected decideWrite<T>(
    kind: Kind,
    name: string,
    decide: (current: LumaObject | undefined) => Decision<T>,
  ): Promise<T> {
    return this.serialize(kind, name, async () => {
      const decision = decide(this.objects.get(kind)?.get(name));
      if ('put' in decision) return structuredClone(decision.answer(await this.write(decision.put, decision.type)));
      if ('remove' in decision) return structuredClone(decision.answer(await this.remove(decision.remove)));
      return structuredClone(decision.answer);
    });
  }

  /** Stores a changed object under a new resourceVersion and announces it. */
  private async write(object: LumaObject, type: Exclude<WatchEventType, 'DELETED'>): Promise<LumaObject> {
    // The object's own file carries its resourceVersion, and opening the store takes the
    // highest one found: only a deletion, which leaves no file, must persist the counter.
    const stored = withResourceVersion(object, ++this.allocatedRevision);
    const file = this.objectPath(object.kind, object.metadata.name);
    await this.journal.put({ put: stored }, file, serialize(stored), type === 'ADDED');
    this.bucket(object.kind).set(object.metadata.name, stored);
    this.emit({ type, object: stored });
    return stored;
  }

  private async remove(current: LumaObject): Promise<LumaObject> {
    const revision = await this.reserveRevision();
    const deleted = withResourceVersion(current, revision);
    const { kind, metadata } = current;
    const record = { remove: { kind, name: metadata.name, resourceVersion: String(revision) } };
    await this.journal.remove(record, this.objectPath(kind, metadata.name));
    this.bucket(current.kind).delete(current.metadata.name);
    this.emit({ type: 'DELETED', object: deleted });
    return deleted;
  }

  watch(listener: WatchListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.objectLocks.settled();
    await this.revisionWrites;
    await this.journal.close();
  }

  private bucket(kind: Kind): Map<string, LumaObject> {
    let bucket = this.objects.get(kind);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(kind, bucket);
    }
    return bucket;
  }

  private objectPath(kind: Kind, name: string): string {
    return path.join(this.stateDir, OBJECTS_DIR, kindDir(kind), `${name}.json`);
  }

  /** Runs operations on one object strictly one after another, whatever their outcome. */
  private serialize<T>(kind: Kind, name: string, operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`the store is closed; ${kind} "${name}" was not written`));
    return this.objectLocks.run(`${kind}/${name}`, operation);
  }

  /**
   * Hands out the next resourceVersion once it is on disk, so that a crash after a
   * deletion became visible can never lead to the same value being handed out again.
   */
  private async reserveRevision(): Promise<number> {
    const revision = ++this.allocatedRevision;
    const write = this.revisionWrites.then(async () => {
      // A write queued behind another may find its value already persisted by it.
      if (this.persistedRevision >= revision) return;
      const target = this.allocatedRevision;
      await writeFileAtomic(path.join(this.stateDir, REVISION_FILE), `${target}\n`, { mode: FILE_MODE });
      this.persistedRevision = target;
    });
    this.revisionWrites = write.catch(() => undefined);
    await write;
    return revision;
  }

  private emit(event: WatchEvent): void {
    this.listeners.emit(event);
  }
}

function kindDir(kind: Kind): string {
  return kind.toLowerCase();
}

/**
 * Every object file under objectsDir by objectKey, but those the journal holds a record
 * of: their files may be torn (they are overwritten in place), and the journal's last
 * record of each is never older than its file (object-journal.ts), so replay sets them.
 * Any other file that cannot be read refuses the open.
 */
async function loadObjectFiles(objectsDir: string, journaled: Set<string>): Promise<Map<string, LumaObject>> {
  const objects = new Map<string, LumaObject>();
  for (const kind of KINDS) {
    const dir = path.join(objectsDir, kindDir(kind));
    await removeTempFiles(dir);
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.name.endsWith('.json')) continue;
      const file = path.join(dir, entry.name);
      const name = entry.name.slice(0, -'.json'.length);
      if (!entry.isFile()) throw new StoreLoadError(file, 'not a regular file');
      if (journaled.has(objectKey(kind, name))) continue;
      objects.set(objectKey(kind, name), parseStoredObject(await readFile(file, 'utf8'), file, kind, name));
    }
  }
  return objects;
}

/** The files of the objects the journal changed, written or removed, then made durable. */
async function rewriteReplayed(stateDir: string, keys: Set<string>, objects: Map<string, LumaObject>): Promise<void> {
  const files: string[] = [];
  for (const key of keys) {
    const [kind = '', name = ''] = key.split('/');
    const file = path.join(stateDir, OBJECTS_DIR, kind.toLowerCase(), `${name}.json`);
    const object = objects.get(key);
    if (object) await writeFileAtomic(file, serialize(object), { mode: FILE_MODE });
    else await rm(file, { force: true });
    files.push(file);
  }
  await makeDurable(files);
}

function serialize(object: LumaObject): string {
  return `${JSON.stringify(object, null, 2)}\n`;
}

function parseStoredObject(text: string, file: string, kind: Kind, name: string): LumaObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreLoadError(file, `not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const problem = shapeProblem(value);
  if (problem) throw new StoreLoadError(file, `not a valid stored object: ${problem}`);
  const object = value as LumaObject;
  if (object.kind !== kind)
    throw new StoreLoadError(file, `holds a ${object.kind} but lies in the directory of ${kind} objects`);
  if (object.metadata.name !== name)
    throw new StoreLoadError(file, `holds "${object.metadata.name}" but is named for "${name}"`);
  const { uid, generation, resourceVersion, creationTimestamp } = object.metadata;
  if (typeof uid !== 'string' || uid === '') return fail('metadata.uid is missing');
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 1)
    return fail('metadata.generation must be a positive integer');
  if (
    typeof resourceVersion !== 'string' ||
    !/^[1-9][0-9]*$/.test(resourceVersion) ||
    !Number.isSafeInteger(Number(resourceVersion))
  ) {
    return fail('metadata.resourceVersion must be a positive integer string');
  }
  if (typeof creationTimestamp !== 'string' || Number.isNaN(Date.parse(creationTimestamp)))
    return fail('metadata.creationTimestamp must be a timestamp');
  if (object.status !== undefined && !isPlainObject(object.status)) return fail('status must be an object');
  return object;

  function fail(reason: string): never {
    throw new StoreLoadError(file, `not a valid stored object: ${reason}`);
  }
}

async function readRevisionFile(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 0;
    throw error;
  }
  const trimmed = text.trim();
  const revision = Number(trimmed);
  if (!/^[0-9]+$/.test(trimmed) || !Number.isSafeInteger(revision))
    throw new StoreLoadError(file, 'must hold a non-negative integer');
  return revision;
}
