import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/hash.js';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import { errorCode } from '../util/atomic-file.js';
import type { Clock } from '../util/clock.js';
import { MANIFEST_FILE_PATTERN } from '../util/manifest-files.js';
import { mapLimit } from '../util/map-limit.js';
import { walkDirectory, type WalkResult } from './walk.js';
import { awaitWriteFinish, sameMark, statMark, type FileMark, type StatFile } from './write-finish.js';

// Reads the watched directory: every *.yaml / *.yml below it (symbolic links followed, see
// walk.ts), parsed and validated, each file on its own so that one that does not parse
// never hides the others, and each only once it has finished being written (see
// write-finish.ts). Paths with a segment starting with a dot (.git, editors' swap and
// backup files, a ConfigMap's `..data`) are not manifests.

export interface ParsedFile {
  /** Relative to the watched directory, `/`-separated: the key of the inventory. */
  file: string;
  /** How messages name it: the directory as given, joined with `file`. */
  displayPath: string;
  /** SHA-256 of the bytes read (applied-files.ts). */
  contentHash: string;
  /** SHA-256 of the objects its documents declare, in order: the same for bytes that differ only in comments or layout. */
  objectsHash: string;
  documents: ParsedDocument[];
}

export interface RefusedFile {
  file: string;
  displayPath: string;
  /** Of the bytes read, when the file was read (and did not parse). */
  contentHash?: string;
  issues: ManifestIssue[];
}

/** A file that changed within the write-finish window: not read yet, so nothing it declared is pruned. */
export interface WritingFile {
  file: string;
  displayPath: string;
}

/**
 * A file that declares what the caller said it applied last: either its bytes are the ones
 * the caller knows (not parsed), or they differ but declare the same objects (a comment or
 * the layout changed), in which case `contentHash` is that of the new bytes.
 */
export interface UnchangedFile {
  file: string;
  displayPath: string;
  contentHash: string;
  objectsHash: string;
}

/** What a file held when it was last applied. */
export interface KnownFile {
  contentHash: string;
  objectsHash: string;
}

export interface DirectoryScan {
  exists: boolean;
  parsed: ParsedFile[];
  refused: RefusedFile[];
  writing: WritingFile[];
  unchanged: UnchangedFile[];
}

export function isHiddenPath(relative: string): boolean {
  return relative.split(/[\\/]/).some((segment) => segment.startsWith('.') && segment !== '.' && segment !== '..');
}

export function isManifestPath(relative: string): boolean {
  return MANIFEST_FILE_PATTERN.test(relative) && !isHiddenPath(relative);
}

/** Reads a file as UTF-8 text; rejects with the system's error (its `code`). */
export type ReadText = (file: string) => Promise<string>;

const readText: ReadText = (file) => readFile(file, 'utf8');

export interface ScanOptions {
  /** A file is read once it has been still this long (write-finish.ts); 0 reads at once. */
  writeFinishMs?: number;
  clock?: Clock;
  stat?: StatFile;
  /** Default: fs/promises' readFile. */
  read?: ReadText;
  /**
   * By file, what it held when last applied: a file read with those bytes is left unparsed,
   * and one whose new bytes declare the same objects is also `unchanged`.
   */
  known?: ReadonlyMap<string, KnownFile>;
  /** Called as files are settled: how a worker says it is alive during a long scan. */
  progress?: () => void;
  /** Awaited before each file is looked at and before it is read: how a worker limits its share of the CPU (duty-cycle.ts). */
  pace?: () => Promise<void>;
}

/** Files read at once: enough to overlap the thread pool's system calls, few enough for any descriptor limit. */
export const READ_CONCURRENCY = 16;

const MISSING: DirectoryScan = { exists: false, parsed: [], refused: [], writing: [], unchanged: [] };

export function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** What a file's documents declare, independent of comments, layout and key order. */
export function objectsHash(documents: readonly ParsedDocument[]): string {
  return contentHash(canonicalJson(documents.map((document) => document.object)));
}

export async function scanDirectory(dir: string, options: ScanOptions = {}): Promise<DirectoryScan> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return structuredClone(MISSING);
  let listing: WalkResult;
  try {
    listing = await walkDirectory(dir, { skip: isHiddenPath, include: isManifestPath });
  } catch (error) {
    // Removed between the stat and the listing: the same as missing.
    if (errorCode(error) === 'ENOENT') return structuredClone(MISSING);
    throw error;
  }
  const scan: DirectoryScan = {
    exists: true,
    parsed: [],
    refused: listing.problems.map((problem) => refusal(problem.file, path.join(dir, problem.file), problem.message)),
    writing: [],
    unchanged: [],
  };
  const statFile = paced(options.stat ?? statMark, options.pace);
  const settled = await awaitWriteFinish(
    listing.files.map((file) => path.join(dir, file)),
    {
      windowMs: options.writeFinishMs ?? 0,
      stat: statFile,
      ...(options.clock ? { clock: options.clock } : {}),
    },
  );
  options.progress?.();
  const gone = new Set(settled.gone);
  const outcomes = await mapLimit(listing.files, READ_CONCURRENCY, async (file) => {
    const displayPath = path.join(dir, file);
    const mark = settled.finished.get(displayPath);
    // Gone since the listing: the next pass (its deletion woke one) sees it gone.
    if (gone.has(displayPath)) return undefined;
    await options.pace?.();
    const outcome: FileOutcome = mark
      ? await readOne({ file, displayPath }, mark, { stat: statFile, read: options.read ?? readText }, options.known)
      : { writing: { file, displayPath } };
    options.progress?.();
    return outcome;
  });
  for (const outcome of outcomes) if (outcome) place(scan, outcome);
  return scan;
}

function paced(statFile: StatFile, pace: ScanOptions['pace']): StatFile {
  if (!pace) return statFile;
  return async (file) => {
    await pace();
    return statFile(file);
  };
}

type FileOutcome =
  | { parsed: ParsedFile }
  | { refused: RefusedFile }
  | { writing: WritingFile }
  | { unchanged: UnchangedFile }
  | undefined;

function place(scan: DirectoryScan, outcome: NonNullable<FileOutcome>): void {
  if ('parsed' in outcome) scan.parsed.push(outcome.parsed);
  else if ('refused' in outcome) scan.refused.push(outcome.refused);
  else if ('writing' in outcome) scan.writing.push(outcome.writing);
  else scan.unchanged.push(outcome.unchanged);
}

/** Reads and parses one finished file; one that moved while it was read is still being written. */
async function readOne(
  { file, displayPath }: { file: string; displayPath: string },
  mark: FileMark,
  fs: { stat: StatFile; read: ReadText },
  known: ScanOptions['known'],
): Promise<FileOutcome> {
  let content: string;
  try {
    content = await fs.read(displayPath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    const message = `cannot read the file: ${errorCode(error) ?? (error as Error).message}`;
    return { refused: refusal(file, displayPath, message) };
  }
  if (!sameMark(mark, await fs.stat(displayPath))) return { writing: { file, displayPath } };
  const hash = contentHash(content);
  const before = known?.get(file);
  if (before?.contentHash === hash) return { unchanged: { file, displayPath, ...before } };
  let documents: ParsedDocument[];
  try {
    documents = parseManifests(content, displayPath);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    return { refused: { file, displayPath, contentHash: hash, issues: error.issues } };
  }
  // A comment or the layout changed, not what it declares: applying it again would change
  // nothing, and a thousand such files would cost the main thread a pass of applies.
  const declares = objectsHash(documents);
  if (before?.objectsHash === declares)
    return { unchanged: { file, displayPath, contentHash: hash, objectsHash: declares } };
  return { parsed: { file, displayPath, contentHash: hash, objectsHash: declares, documents } };
}

function refusal(file: string, displayPath: string, message: string): RefusedFile {
  return { file, displayPath, issues: [{ file: displayPath, line: 1, column: 1, path: '', message }] };
}
