import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { tryLock } from 'fs-native-extensions';

// One process per state directory and role. Two processes on one directory delete each
// other's temporary files, cut each other's ledger and reconcile the same objects twice,
// so the second is refused before it touches anything.
//
// The lock is a kernel lock on a file (an open-file-description lock on Linux, through
// fs-native-extensions, which ships its binary prebuilt): the kernel drops it when its
// holder dies, even by SIGKILL, so a crash never leaves a lock that blocks the next start,
// and no pid is ever trusted to decide (a pidfile with a liveness check is fooled when
// the dead holder's pid is reused). The pid written into the file is only for the message.
//
// The lock file is never removed nor replaced (a rename would give the next process
// another inode to lock): it stays, and its content names the last holder.

/** The control plane (store, ledger, controller, API) and the proxy (routes, certificates) lock apart. */
export type StateRole = 'control-plane' | 'proxy';

export interface LockHolder {
  pid: number;
  /** What the holder is: `luma up`, `luma controller`, `luma proxy run`. */
  command: string;
  role: StateRole;
  since: string;
}

export interface StateLock {
  /** Idempotent; the kernel releases it anyway when the process ends. */
  release(): Promise<void>;
}

export class StateDirInUseError extends Error {
  readonly code = 'StateDirInUse';
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      `the state directory ${dir} is in use by ${describeHolder(holder)}: one process per state directory; stop it first, or give this one another --state-dir`,
    );
    this.name = 'StateDirInUseError';
  }
}

function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'another process (it has not written its pid yet)';
  return `pid ${holder.pid} (${holder.command}, ${holder.role}, since ${holder.since})`;
}

/** Where each role's lock lives under its directory. */
export function lockFileOf(dir: string, role: StateRole): string {
  return path.join(dir, `${role}.lock`);
}

/**
 * Takes the lock of `role` on `dir` (created 0700 if missing) at once, or throws
 * StateDirInUseError naming the holder. Never waits.
 */
export async function lockStateDir(dir: string, role: StateRole, command: string): Promise<StateLock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = lockFileOf(dir, role);
  // 'a+' creates the file without truncating what the holder wrote; an exclusive lock needs write access.
  const handle = await open(file, 'a+', 0o600);
  let granted: boolean;
  try {
    granted = tryLock(handle.fd);
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (!granted) {
    await handle.close();
    throw new StateDirInUseError(dir, await readHolder(file));
  }
  try {
    await writeHolder(handle, { pid: process.pid, command, role, since: new Date().toISOString() });
  } catch (error) {
    await handle.close();
    throw error;
  }
  return heldLock(handle);
}

/** Takes several locks (`luma up`: the control plane's and the proxy's), all or none. */
export async function lockStateDirs(
  wanted: Array<{ dir: string; role: StateRole }>,
  command: string,
): Promise<StateLock> {
  const held: StateLock[] = [];
  try {
    for (const { dir, role } of wanted) held.push(await lockStateDir(dir, role, command));
  } catch (error) {
    await Promise.all(held.map((lock) => lock.release()));
    throw error;
  }
  return { release: async () => void (await Promise.all(held.map((lock) => lock.release()))) };
}

/** Runs `start` under `lock`: released when what started stops, or at once when it fails to start. */
export async function holdingLock<T extends { stop(): Promise<void> }>(
  lock: StateLock,
  start: () => Promise<T>,
): Promise<T> {
  let running: T;
  try {
    running = await start();
  } catch (error) {
    await lock.release();
    throw error;
  }
  const stop = running.stop;
  return {
    ...running,
    stop: async () => {
      await stop();
      await lock.release();
    },
  };
}

function heldLock(handle: FileHandle): StateLock {
  // The handle must stay referenced while the lock is held: a FileHandle collected as
  // garbage closes its descriptor, and closing it releases the lock.
  let released: Promise<void> | undefined;
  return { release: () => (released ??= handle.close()) };
}

async function writeHolder(handle: FileHandle, holder: LockHolder): Promise<void> {
  await handle.truncate(0);
  await handle.write(`${JSON.stringify(holder)}\n`, 0);
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isLockHolder(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isLockHolder(value: unknown): value is LockHolder {
  if (!value || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.pid === 'number' &&
    typeof record.command === 'string' &&
    typeof record.role === 'string' &&
    typeof record.since === 'string'
  );
}
