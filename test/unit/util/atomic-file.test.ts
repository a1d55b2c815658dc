import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTempFileName, removeFileDurable, removeTempFiles, writeFileAtomic } from '../../../src/util/atomic-file.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates and then replaces a file, leaving no temporary file behind', async () => {
    const target = path.join(dir, 'a.json');
    await writeFileAtomic(target, 'one');
    await writeFileAtomic(target, Buffer.from('two'));
    expect(await readFile(target, 'utf8')).toBe('two');
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('sets the exact mode asked for, whatever the umask', async () => {
    const target = path.join(dir, 'token');
    await writeFileAtomic(target, 'secret', { mode: 0o640 });
    expect((await stat(target)).mode & 0o777).toBe(0o640);
  });

  it('leaves the target untouched and cleans up when the rename fails', async () => {
    // A directory in the target's place makes the rename fail, even for root.
    const target = path.join(dir, 'blocked.json');
    await mkdir(target);
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow();
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readdir(dir)).toEqual(['blocked.json']);
  });

  it('fails when the directory does not exist', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'a'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('removeTempFiles', () => {
  it('removes only the temporary files a crashed writer left', async () => {
    const leftover = '.a.json.0123456789ab.tmp';
    expect(isTempFileName(leftover)).toBe(true);
    await writeFile(path.join(dir, leftover), 'partial');
    await writeFile(path.join(dir, 'a.json'), '{}');
    await writeFile(path.join(dir, '.hidden'), '');
    await writeFile(path.join(dir, 'notes.tmp'), '');
    expect(await removeTempFiles(dir)).toEqual([leftover]);
    expect((await readdir(dir)).sort()).toEqual(['.hidden', 'a.json', 'notes.tmp']);
  });

  it('treats a missing directory as empty', async () => {
    expect(await removeTempFiles(path.join(dir, 'nope'))).toEqual([]);
  });
});

describe('removeFileDurable', () => {
  it('removes a file and reports whether there was one', async () => {
    const target = path.join(dir, 'a');
    await writeFile(target, 'x');
    expect(await removeFileDurable(target)).toBe(true);
    expect(await removeFileDurable(target)).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });
});
