import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, writeFileAtomic } from './atomic-file.js';

/**
 * Puts `content` at `file` unless a file is already there, never half-written: it is
 * written in full beside it, then hard-linked into place, which fails when the name is
 * taken. Two processes starting on one state directory thus keep the first one's file
 * (the API token, the secret key); the caller reads `file` afterwards either way.
 */
export async function createOnce(file: string, content: string, mode: number): Promise<void> {
  const staged = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.new`);
  await writeFileAtomic(staged, content, { mode });
  try {
    await link(staged, file);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  } finally {
    await rm(staged, { force: true });
  }
}

/** What a state directory's own file holds: how to make it, how to read it back. */
export interface OwnFile<T> {
  file: string;
  mode: number;
  /** A fresh value's text, written only when no file is there. */
  make: () => string;
  /** The value in `file`, or undefined when there is no file; throws on a bad one. */
  read: (file: string) => Promise<T | undefined>;
  /** The error when the file vanished between its creation and the read. */
  vanished: (file: string) => Error;
}

/**
 * The value of a state directory's own file (the API token, the secret key), made at the
 * first start: whatever is there is read; else a fresh one is created once and read back,
 * so two processes starting together end up with the same value.
 */
export async function readOrCreateOnce<T>(stateDir: string, own: OwnFile<T>): Promise<T> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const existing = await own.read(own.file);
  if (existing !== undefined) return existing;
  await createOnce(own.file, own.make(), own.mode);
  const created = await own.read(own.file);
  if (created === undefined) throw own.vanished(own.file);
  return created;
}

/** The file's stat, or undefined when there is none. */
export async function statIfPresent(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
