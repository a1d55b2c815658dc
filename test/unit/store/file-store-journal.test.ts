import { appendFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, StoreLoadError } from '../../../src/store/file-store.js';
import { JOURNAL_FILES } from '../../../src/store/write-journal.js';
import { project, rv } from './store.cases.js';

// The file store's journal (src/store/object-journal.ts): what a SIGKILL leaves on disk is
// the page cache as it was, so a crash is a copy of the state directory taken while the
// store is open, then edited into what a crash at a worse moment would have left (a stale
// object file, a torn one, a torn journal tail). Opening the copy must give back every
// acknowledged write, and empty the journal.

let stateDir: string;
let crashedDir: string;
const opened: FileStore[] = [];

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-journal-'));
  crashedDir = `${stateDir}-crashed`;
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(stateDir, { recursive: true, force: true });
  await rm(crashedDir, { recursive: true, force: true });
});

async function openStore(dir: string, journalCheckpointBytes?: number): Promise<FileStore> {
  const store = await FileStore.open(dir, { journalCheckpointBytes });
  opened.push(store);
  return store;
}

/** The state directory as a SIGKILL now would leave it. */
async function crash(): Promise<string> {
  await cp(stateDir, crashedDir, { recursive: true });
  return crashedDir;
}

const objectFile = (dir: string, name: string): string => path.join(dir, 'objects', 'project', `${name}.json`);
const journalFile = (dir: string, index: 0 | 1): string => path.join(dir, JOURNAL_FILES[index]);

async function journalBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const index of [0, 1] as const) bytes += (await stat(journalFile(dir, index))).size;
  return bytes;
}

describe('FileStore journal replay', () => {
  it('replays a write whose object file still holds the version before it', async () => {
    const store = await openStore(stateDir);
    const first = (await store.apply(project('web'))).object;
    await store.apply(project('web', { port: 9090 }));
    const dir = await crash();
    await writeFile(objectFile(dir, 'web'), `${JSON.stringify(first, null, 2)}\n`);
    const reopened = await openStore(dir);
    expect(reopened.get('Project', 'web')?.spec.port).toBe(9090);
    expect(JSON.parse(await readFile(objectFile(dir, 'web'), 'utf8'))).toEqual(reopened.get('Project', 'web'));
    expect(await journalBytes(dir)).toBe(0);
  });

  it('replays over object files already written, changing nothing', async () => {
    const store = await openStore(stateDir);
    for (const name of ['a', 'b', 'c']) await store.apply(project(name));
    const before = store.list('Project');
    const dir = await crash();
    expect(await journalBytes(dir)).toBeGreaterThan(0);
    const reopened = await openStore(dir);
    expect(reopened.list('Project')).toEqual(before);
  });

  it('recovers an object file left torn, when the journal holds its write', async () => {
    const store = await openStore(stateDir);
    await store.apply(project('web'));
    const dir = await crash();
    await writeFile(objectFile(dir, 'web'), '{"apiVersion": ');
    const reopened = await openStore(dir);
    expect(reopened.get('Project', 'web')).toEqual(store.get('Project', 'web'));
  });

  it('ignores a torn tail, and anything after an unreadable line', async () => {
    const store = await openStore(stateDir);
    await store.apply(project('kept'));
    const dir = await crash();
    const journal = journalFile(dir, 0);
    const lines = (await readFile(journal, 'utf8')).split('\n');
    const record = lines[0] ?? '';
    // A later write torn halfway: never acknowledged, since its fsync had not returned.
    await appendFile(journal, record.replaceAll('kept', 'torn').slice(0, record.length / 2));
    await rm(objectFile(dir, 'kept'));
    const reopened = await openStore(dir);
    expect(reopened.names('Project')).toEqual(['kept']);

    await reopened.close();
    await writeFile(journal, `{"put": \n${record.replaceAll('kept', 'after')}\n`);
    const again = await FileStore.open(dir);
    opened.push(again);
    expect(again.names('Project')).toEqual(['kept']);
  });

  it('replays a removal whose file was not yet unlinked', async () => {
    const store = await openStore(stateDir);
    const { object } = await store.apply(project('gone'));
    await store.delete('Project', 'gone');
    const dir = await crash();
    await writeFile(objectFile(dir, 'gone'), `${JSON.stringify(object, null, 2)}\n`);
    const reopened = await openStore(dir);
    expect(reopened.has('Project', 'gone')).toBe(false);
    await expect(stat(objectFile(dir, 'gone'))).rejects.toThrow(/ENOENT/);
    const next = await reopened.apply(project('next'));
    expect(rv(next.object)).toBeGreaterThan(rv(object) + 1);
  });

  it('replays the two journal files in resourceVersion order', async () => {
    const store = await openStore(stateDir);
    await store.apply(project('web', { port: 1001 }));
    await store.apply(project('web', { port: 1002 }));
    const dir = await crash();
    const [older = '', newer = ''] = (await readFile(journalFile(dir, 0), 'utf8')).split('\n');
    // The newer record in the first file, the older in the second: order comes from the versions.
    await writeFile(journalFile(dir, 0), `${newer}\n`);
    await writeFile(journalFile(dir, 1), `${older}\n`);
    await rm(objectFile(dir, 'web'));
    const reopened = await openStore(dir);
    expect(reopened.get('Project', 'web')?.spec.port).toBe(1002);
  });

  it('takes the journal over an object file it holds a write of, even one that reads', async () => {
    const store = await openStore(stateDir);
    const { object } = await store.apply(project('web', { port: 1001 }));
    const dir = await crash();
    // An overwrite torn by a power cut could mix the new start with the old end and still read.
    const mixed = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv(object) + 5) } };
    await writeFile(objectFile(dir, 'web'), `${JSON.stringify({ ...mixed, spec: { ...object.spec, port: 1 } })}\n`);
    const reopened = await openStore(dir);
    expect(reopened.get('Project', 'web')).toEqual(object);
  });

  it('refuses a torn object file the journal does not cover', async () => {
    const store = await openStore(stateDir);
    await store.apply(project('web'));
    await store.close();
    expect(await journalBytes(stateDir)).toBe(0);
    await writeFile(objectFile(stateDir, 'web'), '{"apiVersion": ');
    await expect(FileStore.open(stateDir)).rejects.toBeInstanceOf(StoreLoadError);
  });
});

describe('FileStore object files', () => {
  it('overwrites an object file in place, freeing no inode', async () => {
    // ext4 without a journal scans every inode freed in the last 30 s at each file
    // creation (object-journal.ts): an update must not free one.
    const store = await openStore(stateDir);
    await store.apply(project('web', { port: 1001 }));
    const before = await stat(objectFile(stateDir, 'web'));
    const { object } = await store.apply(project('web', { port: 80 }));
    expect((await stat(objectFile(stateDir, 'web'))).ino).toBe(before.ino);
    expect(JSON.parse(await readFile(objectFile(stateDir, 'web'), 'utf8'))).toEqual(object);
  });

  it('keeps the journal when an object file could not be written', async () => {
    const store = await openStore(stateDir);
    await store.apply(project('kept'));
    await mkdir(objectFile(stateDir, 'blocked'));
    await expect(store.apply(project('blocked'))).rejects.toThrow(/EISDIR/);
    await store.apply(project('after'));
    await store.close();
    // The file it failed on may be torn: only the journal says what it holds.
    const records = (await readFile(journalFile(stateDir, 0), 'utf8')).trim().split('\n');
    expect(
      records.map((line) => (JSON.parse(line) as { put: { metadata: { name: string } } }).put.metadata.name),
    ).toEqual(['kept', 'blocked', 'after']);
  });
});

describe('FileStore journal checkpoints', () => {
  it('empties a journal file once the objects it wrote are durable, losing nothing', async () => {
    const store = await openStore(stateDir, 2_000);
    const names = Array.from({ length: 60 }, (_, index) => `p${index}`);
    let written = 0;
    for (const name of names) {
      const { object } = await store.apply(project(name));
      written += JSON.stringify({ put: object }).length + 1;
    }
    await store.apply(project('last'));
    // A checkpoint runs in the background: the journal ends up far smaller than all that was written.
    await expect.poll(() => journalBytes(stateDir)).toBeLessThan(written / 4);
    const dir = await crash();
    const reopened = await openStore(dir);
    expect(reopened.names('Project')).toEqual([...names, 'last'].sort());
  });

  it('loses no acknowledged write of many at once', async () => {
    const store = await openStore(stateDir, 4_000);
    const names = Array.from({ length: 200 }, (_, index) => `q${index}`);
    await Promise.all(names.map((name) => store.apply(project(name))));
    await Promise.all(names.map((name) => store.updateStatus('Project', name, { phase: 'Idle' })));
    const dir = await crash();
    const reopened = await openStore(dir);
    expect(reopened.list('Project').map((object) => [object.metadata.name, object.status?.phase])).toEqual(
      [...names].sort().map((name) => [name, 'Idle']),
    );
  });
});
