import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import { errorCode } from '../util/atomic-file.js';
import type { Clock } from '../util/clock.js';
import { MANIFEST_FILE_PATTERN } from '../util/manifest-files.js';
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
  documents: ParsedDocument[];
}

export interface RefusedFile {
  file: string;
  displayPath: string;
  issues: ManifestIssue[];
}

/** A file that changed within the write-finish window: not read yet, so nothing it declared is pruned. */
export interface WritingFile {
  file: string;
  displayPath: string;
}

/** A file read but not parsed: the caller said its content has not changed. */
export interface UnchangedFile {
  file: string;
  displayPath: string;
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

export interface ScanOptions {
  /** A file is read once it has been still this long (write-finish.ts); 0 reads at once. */
  writeFinishMs?: number;
  clock?: Clock;
  stat?: StatFile;
  /** Asked with every finished file's content before it is parsed: true leaves it unparsed, in `unchanged`. */
  unchanged?: (file: string, content: string) => boolean;
}

const MISSING: DirectoryScan = { exists: false, parsed: [], refused: [], writing: [], unchanged: [] };

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
  const statFile = options.stat ?? statMark;
  const settled = await awaitWriteFinish(
    listing.files.map((file) => path.join(dir, file)),
    {
      windowMs: options.writeFinishMs ?? 0,
      stat: statFile,
      ...(options.clock ? { clock: options.clock } : {}),
    },
  );
  for (const file of listing.files) {
    const displayPath = path.join(dir, file);
    const mark = settled.finished.get(displayPath);
    // Gone since the listing: the next pass (its deletion woke one) sees it gone.
    if (settled.gone.includes(displayPath)) continue;
    if (!mark) {
      scan.writing.push({ file, displayPath });
      continue;
    }
    await readOne(scan, file, displayPath, mark, statFile, options.unchanged);
  }
  return scan;
}

/** Reads and parses one finished file; one that moved while it was read is still being written. */
async function readOne(
  scan: DirectoryScan,
  file: string,
  displayPath: string,
  mark: FileMark,
  statFile: StatFile,
  unchanged: ScanOptions['unchanged'],
): Promise<void> {
  let content: string;
  try {
    content = await readFile(displayPath, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    scan.refused.push(
      refusal(file, displayPath, `cannot read the file: ${errorCode(error) ?? (error as Error).message}`),
    );
    return;
  }
  if (!sameMark(mark, await statFile(displayPath))) {
    scan.writing.push({ file, displayPath });
    return;
  }
  if (unchanged?.(file, content)) {
    scan.unchanged.push({ file, displayPath });
    return;
  }
  try {
    scan.parsed.push({ file, displayPath, documents: parseManifests(content, displayPath) });
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    scan.refused.push({ file, displayPath, issues: error.issues });
  }
}

function refusal(file: string, displayPath: string, message: string): RefusedFile {
  return { file, displayPath, issues: [{ file: displayPath, line: 1, column: 1, path: '', message }] };
}
