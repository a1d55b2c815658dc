import { randomBytes } from 'node:crypto';
import { link, rm } from 'node:fs/promises';
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
