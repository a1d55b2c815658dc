import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_VERSION, type LumaObject, type ProjectObject, type ProjectSpec } from '../../../src/model/types.js';
import { FileStore, StoreLoadError } from '../../../src/store/file-store.js';
import { ConflictError, InvalidObjectError, type WatchEvent } from '../../../src/store/store.js';

let stateDir: string;
const opened: FileStore[] = [];

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-store-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(stateDir, { recursive: true, force: true });
});

async function openStore(): Promise<FileStore> {
  const store = await FileStore.open(stateDir);
  opened.push(store);
  return store;
}

function project(
  name: string,
  spec: Partial<ProjectSpec> = {},
  metadata: Partial<ProjectObject['metadata']> = {},
): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name, ...metadata },
    spec: { image: 'hello', hostnames: [`${name}.localhost`], ...spec },
  };
}

function objectFile(kindDir: string, name: string): string {
  return path.join(stateDir, 'objects', kindDir, `${name}.json`);
}

function rv(object: LumaObject | undefined): number {
  return Number(object?.metadata.resourceVersion);
}

describe('FileStore apply', () => {
  it('creates an object with server-set metadata and writes it to its own file', async () => {
    const store = await openStore();
    const { object, result } = await store.apply(project('web'));
    expect(result).toBe('created');
    expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(object.metadata.generation).toBe(1);
    expect(rv(object)).toBeGreaterThan(0);
    expect(Date.parse(object.metadata.creationTimestamp ?? '')).not.toBeNaN();
    expect(JSON.parse(await readFile(objectFile('project', 'web'), 'utf8'))).toEqual(object);
    expect((await stat(objectFile('project', 'web'))).mode & 0o777).toBe(0o600);
    expect(store.get('Project', 'web')).toEqual(object);
  });

  it('ignores server-set metadata and status given in the input', async () => {
    const store = await openStore();
    const input: ProjectObject = {
      ...project('web', {}, { uid: 'forged', generation: 42, creationTimestamp: '2000-01-01T00:00:00Z' }),
      status: { phase: 'Running' },
    };
    const { object } = await store.apply(input);
    expect(object.metadata.uid).not.toBe('forged');
    expect(object.metadata.generation).toBe(1);
    expect(object.metadata.creationTimestamp).not.toBe('2000-01-01T00:00:00Z');
    expect(object.status).toBeUndefined();
  });

  it('bumps generation only when the spec changes', async () => {
    const store = await openStore();
    const created = (await store.apply(project('web'))).object;

    const relabeled = await store.apply(project('web', {}, { labels: { team: 'a' } }));
    expect(relabeled.result).toBe('configured');
    expect(relabeled.object.metadata.generation).toBe(1);
    expect(rv(relabeled.object)).toBeGreaterThan(rv(created));

    const annotated = await store.apply(project('web', {}, { labels: { team: 'a' }, annotations: { note: 'x' } }));
    expect(annotated.result).toBe('configured');
    expect(annotated.object.metadata.generation).toBe(1);

    const changed = await store.apply(
      project('web', { port: 9000 }, { labels: { team: 'a' }, annotations: { note: 'x' } }),
    );
    expect(changed.result).toBe('configured');
    expect(changed.object.metadata.generation).toBe(2);
    expect(changed.object.metadata.uid).toBe(created.metadata.uid);
    expect(changed.object.metadata.creationTimestamp).toBe(created.metadata.creationTimestamp);
  });

  it('reports an identical object as unchanged regardless of key order, and writes nothing', async () => {
    const store = await openStore();
    const first = await store.apply(
      project(
        'web',
        { env: { A: '1', B: '2' }, scaling: { minInstances: 0, maxInstances: 2 } },
        { labels: { x: '1', y: '2' } },
      ),
    );
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));
    const reordered: ProjectObject = {
      spec: {
        scaling: { maxInstances: 2, minInstances: 0 },
        env: { B: '2', A: '1' },
        hostnames: ['web.localhost'],
        image: 'hello',
      },
      metadata: { labels: { y: '2', x: '1' }, name: 'web' },
      kind: 'Project',
      apiVersion: API_VERSION,
    };
    const again = await store.apply(reordered);
    expect(again.result).toBe('unchanged');
    expect(again.object.metadata.resourceVersion).toBe(first.object.metadata.resourceVersion);
    expect(events).toEqual([]);
  });

  it('treats empty labels the same as no labels', async () => {
    const store = await openStore();
    await store.apply(project('web'));
    expect((await store.apply(project('web', {}, { labels: {} }))).result).toBe('unchanged');
  });

  it('never overwrites status, and status updates never change spec or generation', async () => {
    const store = await openStore();
    await store.apply(project('web'));
    const withStatus = await store.updateStatus('Project', 'web', { phase: 'Running', observedGeneration: 1 });
    expect(withStatus?.status).toEqual({ phase: 'Running', observedGeneration: 1 });
    expect(withStatus?.metadata.generation).toBe(1);
    expect(withStatus?.spec).toEqual(project('web').spec);

    const reapplied = await store.apply({ ...project('web', { port: 9000 }), status: { phase: 'Failed' } });
    expect(reapplied.object.status).toEqual({ phase: 'Running', observedGeneration: 1 });
    expect(reapplied.object.metadata.generation).toBe(2);
    expect(store.get('Project', 'web')?.status).toEqual({ phase: 'Running', observedGeneration: 1 });
  });

  it('refuses a stale or dangling resourceVersion with a ConflictError and changes nothing', async () => {
    const store = await openStore();
    const { object } = await store.apply(project('web'));
    const current = object.metadata.resourceVersion ?? '';
    await store.apply(project('web', { port: 1 }), { resourceVersion: current });

    const stale = store.apply(project('web', { port: 2 }), { resourceVersion: current });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await expect(stale).rejects.toMatchObject({ kind: 'Project', objectName: 'web', expected: current });
    expect(store.get('Project', 'web')?.spec.port).toBe(1);

    await expect(store.apply(project('other'), { resourceVersion: '1' })).rejects.toMatchObject({ actual: undefined });
    expect(store.get('Project', 'other')).toBeUndefined();
  });

  it('dry-run computes the result and writes nothing, emits nothing', async () => {
    const store = await openStore();
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));

    const planned = await store.apply(project('web'), { dryRun: true });
    expect(planned.result).toBe('created');
    expect(planned.object.metadata.generation).toBe(1);
    expect(planned.object.metadata.resourceVersion).toBeUndefined();
    expect(store.get('Project', 'web')).toBeUndefined();
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual([]);

    const { object } = await store.apply(project('web'));
    events.length = 0;
    const update = await store.apply(project('web', { port: 9000 }), { dryRun: true });
    expect(update.result).toBe('configured');
    expect(update.object.metadata.generation).toBe(2);
    expect(update.object.spec).toMatchObject({ port: 9000 });
    expect(store.get('Project', 'web')).toEqual(object);
    expect(JSON.parse(await readFile(objectFile('project', 'web'), 'utf8'))).toEqual(object);
    expect(events).toEqual([]);

    await expect(store.apply(project('web'), { dryRun: true, resourceVersion: '999' })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it('refuses input it cannot hold, before touching the disk', async () => {
    const store = await openStore();
    await expect(store.apply(project('../escape'))).rejects.toBeInstanceOf(InvalidObjectError);
    await expect(store.apply(project('Upper'))).rejects.toBeInstanceOf(InvalidObjectError);
    const wrongKind = { ...project('web'), kind: 'Pod' } as unknown as LumaObject;
    await expect(store.apply(wrongKind)).rejects.toThrow(/kind must be one of/);
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual([]);
  });
});

describe('FileStore copies', () => {
  it('get, list, apply results and events are copies the caller cannot use to change the store', async () => {
    const store = await openStore();
    store.watch((event) => {
      (event.object.spec as ProjectSpec).image = 'mutated-by-listener';
    });
    const { object } = await store.apply(project('web'));
    (object.spec as ProjectSpec).image = 'mutated-by-caller';
    const got = store.get('Project', 'web');
    if (!got) throw new Error('missing');
    got.spec.hostnames.push('evil.localhost');
    store.list('Project')[0]?.spec.hostnames.push('evil.localhost');
    expect(store.get('Project', 'web')?.spec).toEqual(project('web').spec);
  });

  it('lists one kind, sorted by name', async () => {
    const store = await openStore();
    await store.apply(project('b'));
    await store.apply(project('a'));
    await store.apply({ apiVersion: API_VERSION, kind: 'Image', metadata: { name: 'a' }, spec: { ref: 'busybox' } });
    expect(store.list('Project').map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(store.list('Image').map((o) => o.kind)).toEqual(['Image']);
    expect(store.list('Lease')).toEqual([]);
    expect(store.names('Project')).toEqual(['a', 'b']);
    expect(store.names('Image')).toEqual(['a']);
    expect(store.names('Lease')).toEqual([]);
  });
});

describe('FileStore updateStatus', () => {
  it('bumps the resourceVersion and emits MODIFIED; an equal status writes nothing', async () => {
    const store = await openStore();
    const created = (await store.apply(project('web'))).object;
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));

    const updated = await store.updateStatus('Project', 'web', {
      phase: 'Running',
      instances: { running: 1, starting: 0, stopped: 0, paused: 0 },
    });
    expect(rv(updated)).toBeGreaterThan(rv(created));
    expect(events.map((e) => e.type)).toEqual(['MODIFIED']);
    expect(events[0]?.object).toEqual(updated);

    const same = await store.updateStatus('Project', 'web', {
      instances: { paused: 0, stopped: 0, starting: 0, running: 1 },
      phase: 'Running',
    });
    expect(same?.metadata.resourceVersion).toBe(updated?.metadata.resourceVersion);
    expect(events).toHaveLength(1);
  });

  it('returns undefined for an object that does not exist', async () => {
    const store = await openStore();
    expect(await store.updateStatus('Project', 'ghost', { phase: 'Running' })).toBeUndefined();
  });
});

describe('FileStore delete', () => {
  it('removes the file, emits DELETED with the last object, and honours resourceVersion', async () => {
    const store = await openStore();
    const { object } = await store.apply(project('web'));
    await store.updateStatus('Project', 'web', { phase: 'Running' });
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));

    await expect(
      store.delete('Project', 'web', { resourceVersion: object.metadata.resourceVersion ?? '' }),
    ).rejects.toBeInstanceOf(ConflictError);
    const current = store.get('Project', 'web');
    const deleted = await store.delete('Project', 'web', { resourceVersion: current?.metadata.resourceVersion ?? '' });
    expect(deleted?.status).toEqual({ phase: 'Running' });
    expect(rv(deleted)).toBeGreaterThan(rv(current));
    expect(events).toEqual([{ type: 'DELETED', object: deleted }]);
    expect(store.get('Project', 'web')).toBeUndefined();
    expect(await readdir(path.join(stateDir, 'objects', 'project'))).toEqual([]);
    expect(await store.delete('Project', 'web')).toBeUndefined();
  });
});

describe('FileStore resourceVersion', () => {
  it('only increases, across deletes and reopening', async () => {
    let store = await openStore();
    const seen: number[] = [];
    seen.push(rv((await store.apply(project('a'))).object));
    seen.push(rv((await store.apply(project('b'))).object));
    seen.push(rv(await store.updateStatus('Project', 'a', { phase: 'Idle' })));
    seen.push(rv(await store.delete('Project', 'b')));
    seen.push(rv(await store.delete('Project', 'a')));
    await store.close();

    // Every object is gone: only the persisted revision remembers what was handed out.
    store = await openStore();
    seen.push(rv((await store.apply(project('a'))).object));
    await store.close();
    store = await openStore();
    seen.push(rv(await store.updateStatus('Project', 'a', { phase: 'Running' })));

    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] ?? Infinity);
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

  it('gives distinct, increasing versions to concurrent writes of different objects', async () => {
    const store = await openStore();
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => store.apply(project(name))));
    const versions = results.map((r) => rv(r.object));
    expect(new Set(versions).size).toBe(versions.length);
    await store.close();
    // The objects' files carry their versions: a reopened store goes on above them.
    const reopened = await openStore();
    expect(rv((await reopened.apply(project('f'))).object)).toBeGreaterThan(Math.max(...versions));
  });
});

describe('FileStore serialization', () => {
  it('never interleaves concurrent writes to one object', async () => {
    const store = await openStore();
    await store.apply(project('web'));
    const writes = [];
    for (let port = 1; port <= 10; port++) {
      writes.push(store.apply(project('web', { port })));
      writes.push(store.updateStatus('Project', 'web', { phase: 'Running', observedGeneration: port }));
    }
    const results = await Promise.all(writes);
    const versions = results.map((r) => rv(r && 'result' in r ? r.object : r));
    // In call order, each write saw the one before it.
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1] ?? Infinity);
    const final = store.get('Project', 'web');
    expect(final?.spec.port).toBe(10);
    expect(final?.metadata.generation).toBe(11);
    expect(final?.status?.observedGeneration).toBe(10);
    expect(JSON.parse(await readFile(objectFile('project', 'web'), 'utf8'))).toEqual(final);
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

  it('close waits for pending writes, then refuses new ones', async () => {
    const store = await openStore();
    const pending = store.apply(project('web'));
    await store.close();
    expect(store.get('Project', 'web')).toBeDefined();
    await expect(pending).resolves.toMatchObject({ result: 'created' });
    await expect(store.apply(project('late'))).rejects.toThrow(/closed/);
  });
});

describe('FileStore watch', () => {
  it('delivers ADDED and MODIFIED in order; a throwing listener breaks nothing', async () => {
    const errors: unknown[] = [];
    const store = await FileStore.open(stateDir, { onListenerError: (error) => errors.push(error) });
    opened.push(store);
    const events: string[] = [];
    store.watch(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = store.watch((event) => events.push(`${event.type} ${event.object.metadata.name}`));

    await store.apply(project('web'));
    await store.apply(project('web', { port: 1 }));
    unsubscribe();
    await store.apply(project('web', { port: 2 }));

    expect(events).toEqual(['ADDED web', 'MODIFIED web']);
    expect(errors).toHaveLength(3);
    expect(store.get('Project', 'web')?.spec.port).toBe(2);
  });
});

describe('FileStore open', () => {
  it('reloads every object after a restart', async () => {
    const store = await openStore();
    await store.apply(project('web', {}, { labels: { team: 'a' } }));
    await store.updateStatus('Project', 'web', { phase: 'Running' });
    await store.apply({
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'l1' },
      spec: { project: 'web', ttl: '10m' },
    });
    const before = [store.get('Project', 'web'), store.get('Lease', 'l1')];
    await store.close();

    const reopened = await openStore();
    expect([reopened.get('Project', 'web'), reopened.get('Lease', 'l1')]).toEqual(before);
  });

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
