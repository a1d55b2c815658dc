import { lstat } from 'node:fs/promises';

// A Unix socket is only as private as the directory it is bound in: whoever can write
// there can unlink the socket and bind their own in its place, or leave a symlink that
// sends the bind elsewhere. So before binding, the directory must be a real directory
// (not a symlink), owned by this process's user, and writable by nobody else.

export class UnsafeDirectoryError extends Error {
  readonly code = 'UnsafeDirectory';
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`${dir} is not a safe place for the management socket: ${reason}`);
    this.name = 'UnsafeDirectoryError';
  }
}

/** Throws UnsafeDirectoryError unless `dir` is a directory of ours that only we can write. */
export async function checkPrivateDirectory(dir: string): Promise<void> {
  const info = await lstat(dir);
  if (info.isSymbolicLink()) throw new UnsafeDirectoryError(dir, 'it is a symlink; give a real directory');
  if (!info.isDirectory()) throw new UnsafeDirectoryError(dir, 'it is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid)
    throw new UnsafeDirectoryError(dir, `it is owned by uid ${info.uid}, not by this process's uid ${uid}`);
  if (info.mode & 0o022) {
    throw new UnsafeDirectoryError(
      dir,
      `others can write in it (mode ${(info.mode & 0o7777).toString(8)}); chmod go-w it or choose another directory`,
    );
  }
}
