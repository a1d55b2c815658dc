import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import { errorCode } from '../util/atomic-file.js';
import { MANIFEST_FILE_PATTERN } from '../util/manifest-files.js';

// Reads the watched directory: every *.yaml / *.yml below it, parsed and validated, each
// file on its own so that one that does not parse never hides the others. Paths with a
// segment starting with a dot (.git, editors' swap and backup files) are not manifests.

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

/** A file read but not parsed: the caller said its content has not changed. */
export interface UnchangedFile {
  file: string;
  displayPath: string;
}

export interface DirectoryScan {
  exists: boolean;
  parsed: ParsedFile[];
  refused: RefusedFile[];
  unchanged: UnchangedFile[];
}

export interface ScanOptions {
  /** Asked with every file's content before it is parsed: true leaves it unparsed, in `unchanged`. */
  unchanged?: (file: string, content: string) => boolean;
}

export function isHiddenPath(relative: string): boolean {
  return relative.split(/[\\/]/).some((segment) => segment.startsWith('.') && segment !== '.' && segment !== '..');
}

export function isManifestPath(relative: string): boolean {
  return MANIFEST_FILE_PATTERN.test(relative) && !isHiddenPath(relative);
}

async function listManifestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const relative = path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if (isManifestPath(relative)) found.push(relative);
  }
  return found.sort();
}

export async function scanDirectory(dir: string, options: ScanOptions = {}): Promise<DirectoryScan> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return { exists: false, parsed: [], refused: [], unchanged: [] };
  let files: string[];
  try {
    files = await listManifestFiles(dir);
  } catch (error) {
    // Removed between the stat and the listing: the same as missing.
    if (errorCode(error) === 'ENOENT') return { exists: false, parsed: [], refused: [], unchanged: [] };
    throw error;
  }
  const scan: DirectoryScan = { exists: true, parsed: [], refused: [], unchanged: [] };
  for (const file of files) {
    const displayPath = path.join(dir, file);
    let content: string;
    try {
      content = await readFile(displayPath, 'utf8');
    } catch (error) {
      // Deleted since the listing: the next pass (its deletion woke one) sees it gone.
      if (errorCode(error) === 'ENOENT') continue;
      scan.refused.push({ file, displayPath, issues: [{ file: displayPath, line: 1, column: 1, path: '', message: `cannot read the file: ${errorCode(error) ?? (error as Error).message}` }] });
      continue;
    }
    if (options.unchanged?.(file, content)) {
      scan.unchanged.push({ file, displayPath });
      continue;
    }
    try {
      scan.parsed.push({ file, displayPath, documents: parseManifests(content, displayPath) });
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      scan.refused.push({ file, displayPath, issues: error.issues });
    }
  }
  return scan;
}
