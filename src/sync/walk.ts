import type { Dirent } from 'node:fs';
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../util/atomic-file.js';

// Lists the files below the watched directory by the paths a person sees, following
// symbolic links to files and to directories: a directory of links, a link swapped for a
// file, and a Kubernetes ConfigMap mount (`app.yaml -> ..data/app.yaml`, `..data ->
// ..2026_12_07_…`, swapped by rename) all read like plain files. Hidden entries (`.git`,
// `..data`) are skipped before they are followed, so a ConfigMap's files are listed once,
// under their visible names. A link back to a directory being walked (a loop), one that
// loops on itself, and nesting beyond MAX_DEPTH are reported for that path; the walk goes on.

/** Deeper than any real layout of manifests; stops chains of links that are not loops. */
export const MAX_DEPTH = 32;

/** Far more entries than any directory of manifests: a link to `/` or a home directory, say. */
export const MAX_ENTRIES = 200_000;

/**
 * The walk stopped before the end: the listing is incomplete, so the pass must fail as a
 * whole (files not listed would look deleted and be pruned).
 */
export class WalkLimitError extends Error {
  constructor(root: string, maxEntries: number) {
    super(
      `${root}: more than ${maxEntries} entries below it (does a symbolic link lead to a large directory?); nothing is applied or pruned until it holds fewer`,
    );
    this.name = 'WalkLimitError';
  }
}

export interface WalkProblem {
  /** Relative to the walked directory, `/`-separated. */
  file: string;
  message: string;
}

export interface WalkResult {
  /** Relative, `/`-separated, sorted; those `include` accepted. */
  files: string[];
  problems: WalkProblem[];
}

/** The result being gathered, and the entries seen so far. */
interface WalkState extends WalkResult {
  entries: number;
  maxEntries: number;
}

export interface WalkOptions {
  /** Entries (relative paths) not to look into: hidden ones. */
  skip: (relative: string) => boolean;
  /** Files to list. */
  include: (relative: string) => boolean;
  /** Default MAX_ENTRIES. */
  maxEntries?: number;
}

export async function walkDirectory(root: string, options: WalkOptions): Promise<WalkResult> {
  const state: WalkState = { files: [], problems: [], entries: 0, maxEntries: options.maxEntries ?? MAX_ENTRIES };
  await walk(root, '', [await realpath(root)], options, state);
  return { files: state.files.sort(), problems: state.problems };
}

async function walk(
  root: string,
  relativeDir: string,
  ancestors: string[],
  options: WalkOptions,
  result: WalkState,
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(path.join(root, relativeDir), { withFileTypes: true });
  } catch (error) {
    // The top directory's errors are the caller's (missing = empty); a subdirectory removed meanwhile is simply gone.
    if (relativeDir === '') throw error;
    if (errorCode(error) !== 'ENOENT')
      result.problems.push({
        file: relativeDir,
        message: `cannot read the directory: ${errorCode(error) ?? String(error)}`,
      });
    return;
  }
  result.entries += entries.length;
  if (result.entries > result.maxEntries) throw new WalkLimitError(root, result.maxEntries);
  for (const entry of entries) {
    const relative = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
    if (options.skip(relative)) continue;
    const kind = entry.isSymbolicLink()
      ? await followLink(root, relative, options, result)
      : entry.isDirectory()
        ? 'directory'
        : entry.isFile()
          ? 'file'
          : undefined;
    if (kind === 'file' && options.include(relative)) result.files.push(relative);
    if (kind === 'directory') await enter(root, relative, ancestors, options, result);
  }
}

async function enter(
  root: string,
  relative: string,
  ancestors: string[],
  options: WalkOptions,
  result: WalkState,
): Promise<void> {
  if (ancestors.length > MAX_DEPTH) {
    result.problems.push({
      file: relative,
      message: `not read: nested more than ${MAX_DEPTH} directories deep (through symbolic links?)`,
    });
    return;
  }
  const real = await realpath(path.join(root, relative)).catch(() => undefined);
  if (real === undefined) return;
  if (ancestors.includes(real)) {
    const target = await readlink(path.join(root, relative)).catch(() => real);
    result.problems.push({
      file: relative,
      message: `not followed: a symbolic link loop (${relative} -> ${target} leads back to a directory that contains it)`,
    });
    return;
  }
  await walk(root, relative, [...ancestors, real], options, result);
}

/** What a link leads to. A loop is a problem; a link to nothing only when it is named like a file to list. */
async function followLink(
  root: string,
  relative: string,
  options: WalkOptions,
  result: WalkResult,
): Promise<'file' | 'directory' | undefined> {
  const full = path.join(root, relative);
  try {
    const info = await stat(full);
    return info.isDirectory() ? 'directory' : info.isFile() ? 'file' : undefined;
  } catch (error) {
    const code = errorCode(error);
    const target = await readlink(full).catch(() => undefined);
    // The link itself removed since the listing: gone, nothing to say.
    if (target === undefined) return undefined;
    if (code === 'ELOOP')
      result.problems.push({
        file: relative,
        message: `not followed: a symbolic link loop (${relative} -> ${target})`,
      });
    else if (code !== 'ENOENT')
      result.problems.push({
        file: relative,
        message: `cannot follow the symbolic link (${relative} -> ${target}): ${code ?? String(error)}`,
      });
    else if (options.include(relative))
      result.problems.push({
        file: relative,
        message: `a symbolic link to nothing (${relative} -> ${target}); what it declared is kept until it leads to a file again or is removed`,
      });
    return undefined;
  }
}
