import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DirectorySyncGroup } from './directory-sync.js';

// A crash at any moment must leave either the old content or the new one on disk, never
// a torn file: the data goes to a temporary file beside the target (same filesystem, so
// rename is atomic), is fsynced, renamed over the target, and the directory is fsynced so
// that the rename itself survives a power loss.

export interface WriteFileAtomicOptions {
  /** Exact permission bits of the written file (not reduced by the umask). */
  mode?: number;
}

const TEMP_SUFFIX = '.tmp';
/** Writes that finish together share their directory fsyncs (see directory-sync.ts). */
const directorySyncs = new DirectorySyncGroup((dir) => fsyncDirectory(dir));
const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

function tempPathFor(target: string): string {
  // Dot-prefixed so that directory scans for `*.json` never mistake it for an object.
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/** True for the names of the temporary files that writeFileAtomic creates. */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * Replaces `target` with `data` atomically and durably. On failure before the rename the
 * target is untouched and the temporary file is removed. If only the final directory
 * fsync fails, the new content is in place but may not survive a crash; the error is
 * still thrown, because the caller asked for durability.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const temp = tempPathFor(target);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', options.mode ?? 0o666);
    if (options.mode !== undefined) await handle.chmod(options.mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await directorySyncs.sync(path.dirname(target));
}

/** Removes `target` durably; false when it did not exist. */
export async function removeFileDurable(target: string): Promise<boolean> {
  try {
    await unlink(target);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  await directorySyncs.sync(path.dirname(target));
  return true;
}

/** Makes the directory's entries (creations, renames, removals) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    // Some platforms (Windows) cannot open a directory for syncing; there is nothing to do.
    if (isUnsupportedDirectorySync(error)) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a directory (EINVAL); their renames are as durable as they get.
    if (!isUnsupportedDirectorySync(error)) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Removes temporary files left in `dir` by a writer that crashed before its rename.
 * Only call it when no writer can be active in `dir`, e.g. at startup.
 * Returns the removed file names; a missing directory has none.
 */
export async function removeTempFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !isTempFileName(entry.name)) continue;
    await rm(path.join(dir, entry.name), { force: true });
    removed.push(entry.name);
  }
  return removed;
}

function isUnsupportedDirectorySync(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EISDIR' || code === 'EINVAL' || code === 'EPERM' || code === 'EBADF';
}

export function errorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}
