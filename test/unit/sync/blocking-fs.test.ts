import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readNow, statNow } from '../../../src/sync/blocking-fs.js';
import { scanDirectory } from '../../../src/sync/scan.js';

// The worker's blocking file calls answer as the promise-based ones do: the scan reads
// the same directory to the same result with either.

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-blocking-fs-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('blocking-fs', () => {
  it('reads and stats a file, and answers for a missing one as the promise-based calls do', async () => {
    await writeFile(path.join(dir, 'a.yaml'), 'héllo');
    expect(await readNow(path.join(dir, 'a.yaml'))).toBe('héllo');
    expect((await statNow(path.join(dir, 'a.yaml')))?.size).toBe(6);
    expect(await statNow(path.join(dir, 'missing.yaml'))).toBeUndefined();
    await expect(readNow(path.join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives a scan the same result as the default calls', async () => {
    const project = (name: string): string =>
      `apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${name}\nspec:\n  image: busybox\n  hostnames: [${name}.localhost]\n`;
    await writeFile(path.join(dir, 'a.yaml'), project('a'));
    await writeFile(path.join(dir, 'b.yaml'), 'kind: [');
    const blocking = await scanDirectory(dir, { stat: statNow, read: readNow });
    const promised = await scanDirectory(dir);
    const shape = (scan: typeof blocking): unknown => ({
      parsed: scan.parsed.map((file) => [file.file, file.contentHash, file.objectsHash]),
      refused: scan.refused.map((file) => [file.file, file.issues.length]),
    });
    expect(shape(blocking)).toEqual(shape(promised));
    expect(blocking.parsed.map((file) => file.file)).toEqual(['a.yaml']);
    expect(blocking.refused.map((file) => file.file)).toEqual(['b.yaml']);
  });
});
