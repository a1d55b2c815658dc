import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_VERSION, type ProjectObject } from '../../../src/model/types.js';
import { FileStore, StoreLoadError } from '../../../src/store/file-store.js';
import type { WatchEvent } from '../../../src/store/store.js';
import { project, rv, storeCases } from './store.cases.js';

let stateDir: string;
const opened: FileStore[] = [];

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-store-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(stateDir, { recursive: true, force: true });
});

storeCases('FileStore', { open: (options) => FileStore.open(stateDir, options) });

async function openStore(): Promise<FileStore> {
  const store = await FileStore.open(stateDir);
  opened.push(store);
  return store;
}

function objectFile(kindDir: string, name: string): string {
  return path.join(stateDir, 'objects', kindDir, `${name}.json`);
}

// What only the file store does: files on disk, their modes, and what it finds at open.

describe('FileStore files', () => {
  it('writes each object to its own file, readable only by its owner', async () => {
    const store = await openStore();
    const { object } = await store.apply(project('web'));
    expect(JSON.parse(await readFile(objectFile('project', 'web'), 'utf8'))).toEqual(object);
    expect((await stat(objectFile('project', 'web'))).mode & 0o777).toBe(0o600);
    await store.updateStatus('Project', 'web', { phase: 'Running' });
    expect(JSON.parse(await readFile(objectFile('project', 'web'), 'utf8'))).toEqual(store.get('Project', 'web'));
    await store.delete('Project', 'web');
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual([]);
  });

  it('a dry run and refused input touch no file', async () => {
    const store = await openStore();
    await store.apply(project('web'), { dryRun: true });
    await expect(store.apply(project('../escape'))).rejects.toThrow();
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual([]);
  });

  it('a failed write leaves memory as it was, rejects, and later writes still work', async () => {
    const store = await openStore();
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));
    // A directory where the file should go makes the rename fail, even for root.
    await mkdir(objectFile('project', 'blocked'));
    await expect(store.apply(project('blocked'))).rejects.toThrow();
    expect(store.get('Project', 'blocked')).toBeUndefined();

    const { object } = await store.apply(project('web'));
    await rm(objectFile('project', 'web'));
    await mkdir(objectFile('project', 'web'));
    await expect(store.updateStatus('Project', 'web', { phase: 'Running' })).rejects.toThrow();
    expect(store.get('Project', 'web')).toEqual(object);
    expect(events.map((e) => e.type)).toEqual(['ADDED']);

    await rm(objectFile('project', 'web'), { recursive: true });
    const retried = await store.updateStatus('Project', 'web', { phase: 'Running' });
    expect(retried?.status).toEqual({ phase: 'Running' });
  });

  it('takes the highest of the revision file and every object at open', async () => {
    const store = await openStore();
    await store.apply(project('a'));
    await store.close();
    // An object newer than the revision file, as if copied in from a backup.
    const file = objectFile('project', 'a');
    const stored = JSON.parse(await readFile(file, 'utf8')) as ProjectObject;
    stored.metadata.resourceVersion = '500';
    await writeFile(file, JSON.stringify(stored));
    const reopened = await openStore();
    expect(rv((await reopened.apply(project('b'))).object)).toBe(501);
  });
});

describe('FileStore open', () => {
  it('removes temporary files left by a crash', async () => {
    const store = await openStore();
    await store.apply(project('web'));
    await store.close();
    const leftover = path.join(stateDir, 'objects', 'project', '.web.json.0123456789ab.tmp');
    await writeFile(leftover, '{"half');
    await openStore();
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual(['web.json']);
  });

  it('refuses to open with a corrupt file, naming it', async () => {
    const store = await openStore();
    await store.apply(project('web'));
    await store.close();
    const file = objectFile('project', 'web');
    await writeFile(file, '{"apiVersion": ');
    await expect(FileStore.open(stateDir)).rejects.toThrow(file);
    await expect(FileStore.open(stateDir)).rejects.toBeInstanceOf(StoreLoadError);
  });

  it('refuses a file that parses but is not a valid object, naming it', async () => {
    const file = objectFile('project', 'web');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(
      file,
      JSON.stringify({ apiVersion: API_VERSION, kind: 'Project', metadata: { name: 'web' }, spec: {} }),
    );
    await expect(FileStore.open(stateDir)).rejects.toThrow(
      `${file}: not a valid stored object: metadata.uid is missing`,
    );

    await writeFile(file, JSON.stringify([1, 2]));
    await expect(FileStore.open(stateDir)).rejects.toThrow(file);

    const misplaced = objectFile('image', 'web');
    await rm(file);
    await mkdir(path.dirname(misplaced), { recursive: true });
    const store = await openStore();
    await store.apply(project('web'));
    await store.close();
    await writeFile(misplaced, await readFile(file, 'utf8'));
    await expect(FileStore.open(stateDir)).rejects.toThrow(`${misplaced}: holds a Project`);
  });

  it('refuses a corrupt revision file, naming it', async () => {
    await writeFile(path.join(stateDir, 'store-revision'), 'banana');
    await expect(FileStore.open(stateDir)).rejects.toThrow(path.join(stateDir, 'store-revision'));
  });
});
