import { afterEach, describe, expect, it } from 'vitest';
import {
  API_VERSION,
  type Kind,
  type LeaseObject,
  type LumaObject,
  type ProjectObject,
  type ProjectSpec,
} from '../../../src/model/types.js';
import {
  ConflictError,
  InvalidObjectError,
  TerminatingError,
  type ObjectStore,
  type WatchEvent,
} from '../../../src/store/store.js';

// What every ObjectStore does, whatever holds its objects: one suite, run by each
// implementation's own test file (test/unit/store/file-store.test.ts for the file store,
// test/integration/store/postgres-store.test.ts for PostgreSQL), as hono runs one router
// suite against each of its routers. What only one implementation does (files on disk, a
// second process on the same database) stays in that implementation's file.

export interface StoreOpenOptions {
  onListenerError?: (error: unknown, event: WatchEvent) => void;
  initialFinalizers?: Partial<Record<Kind, string[]>>;
}

export interface StoreHarness {
  /** Opens the store on the current test's state; a second call opens the same state again. */
  open(options?: StoreOpenOptions): Promise<ObjectStore>;
}

export function project(
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

export function lease(name: string, ttl = '10m'): LeaseObject {
  return { apiVersion: API_VERSION, kind: 'Lease', metadata: { name }, spec: { project: 'web', ttl } };
}

export function rv(object: LumaObject | undefined): number {
  return Number(object?.metadata.resourceVersion);
}

export function storeCases(label: string, harness: StoreHarness): void {
  const opened: ObjectStore[] = [];
  const openStore = async (options?: StoreOpenOptions): Promise<ObjectStore> => {
    const store = await harness.open(options);
    opened.push(store);
    return store;
  };
  const close = async (store: ObjectStore): Promise<void> => {
    opened.splice(opened.indexOf(store), 1);
    await store.close();
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  describe(`${label} apply`, () => applyCases(openStore));
  describe(`${label} reads`, () => readCases(openStore));
  describe(`${label} status`, () => statusCases(openStore));
  describe(`${label} delete and finalizers`, () => deleteCases(openStore));
  describe(`${label} resourceVersion`, () => versionCases(openStore, close));
  describe(`${label} serialization`, () => serializationCases(openStore, close));
  describe(`${label} watch`, () => watchCases(openStore));
}

type Open = (options?: StoreOpenOptions) => Promise<ObjectStore>;
type Close = (store: ObjectStore) => Promise<void>;

function applyCases(openStore: Open): void {
  it('creates an object with server-set metadata', async () => {
    const store = await openStore();
    const { object, result } = await store.apply(project('web'));
    expect(result).toBe('created');
    expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(object.metadata.generation).toBe(1);
    expect(rv(object)).toBeGreaterThan(0);
    expect(Date.parse(object.metadata.creationTimestamp ?? '')).not.toBeNaN();
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
    const spec = { env: { A: '1', B: '2' }, scaling: { minInstances: 0, maxInstances: 2 } };
    const first = await store.apply(project('web', spec, { labels: { x: '1', y: '2' } }));
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

    const { object } = await store.apply(project('web'));
    events.length = 0;
    const update = await store.apply(project('web', { port: 9000 }), { dryRun: true });
    expect(update.result).toBe('configured');
    expect(update.object.metadata.generation).toBe(2);
    expect(update.object.spec).toMatchObject({ port: 9000 });
    expect(store.get('Project', 'web')).toEqual(object);
    expect(events).toEqual([]);
    const conflicting = store.apply(project('web'), { dryRun: true, resourceVersion: '999' });
    await expect(conflicting).rejects.toBeInstanceOf(ConflictError);
  });

  it('refuses input it cannot hold', async () => {
    const store = await openStore();
    await expect(store.apply(project('../escape'))).rejects.toBeInstanceOf(InvalidObjectError);
    await expect(store.apply(project('Upper'))).rejects.toBeInstanceOf(InvalidObjectError);
    const wrongKind = { ...project('web'), kind: 'Pod' } as unknown as LumaObject;
    await expect(store.apply(wrongKind)).rejects.toThrow(/kind must be one of/);
    expect(store.names('Project')).toEqual([]);
  });
}

function readCases(openStore: Open): void {
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
    expect(store.has('Image', 'a')).toBe(true);
    expect(store.has('Lease', 'a')).toBe(false);
  });

  it("metadata is a copy of an object's metadata alone", async () => {
    const store = await openStore();
    await store.apply(project('web', {}, { labels: { team: 'a' } }));
    const metadata = store.metadata('Project', 'web');
    expect(metadata).toEqual(store.get('Project', 'web')?.metadata);
    if (!metadata) throw new Error('missing');
    metadata.labels = { team: 'mutated' };
    expect(store.get('Project', 'web')?.metadata.labels).toEqual({ team: 'a' });
    expect(store.metadata('Lease', 'web')).toBeUndefined();
  });

  it('resourceVersion tells the version of the last write, and a new one after each write', async () => {
    const store = await openStore();
    const { object } = await store.apply(project('web'));
    expect(store.resourceVersion('Project', 'web')).toBe(object.metadata.resourceVersion);
    const written = await store.updateStatus('Project', 'web', { phase: 'Running', observedGeneration: 1 });
    expect(store.resourceVersion('Project', 'web')).toBe(written?.metadata.resourceVersion);
    expect(written?.metadata.resourceVersion).not.toBe(object.metadata.resourceVersion);
    expect(store.resourceVersion('Lease', 'web')).toBeUndefined();
  });
}

function statusCases(openStore: Open): void {
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

  it('bumps the resourceVersion and emits MODIFIED; an equal status writes nothing', async () => {
    const store = await openStore();
    const created = (await store.apply(project('web'))).object;
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));
    const instances = { running: 1, starting: 0, stopped: 0, paused: 0 };
    const updated = await store.updateStatus('Project', 'web', { phase: 'Running', instances });
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

  it("mutateStatus runs read-modify-write in turn, so concurrent writers keep each other's fields", async () => {
    const store = await openStore();
    await store.apply(lease('m1'));
    await Promise.all([
      store.mutateStatus('Lease', 'm1', (current) => ({ ...current.status, phase: 'Active' })),
      store.mutateStatus('Lease', 'm1', (current) => ({ ...current.status, expiresAt: '2030-01-01T00:00:00.000Z' })),
    ]);
    expect(store.get('Lease', 'm1')?.status).toEqual({ phase: 'Active', expiresAt: '2030-01-01T00:00:00.000Z' });
  });

  it('mutateStatus writes nothing when the change returns undefined', async () => {
    const store = await openStore();
    await store.apply(lease('m2'));
    const before = store.get('Lease', 'm2')?.metadata.resourceVersion;
    await store.mutateStatus('Lease', 'm2', () => undefined);
    expect(store.get('Lease', 'm2')?.metadata.resourceVersion).toBe(before);
  });
}

function deleteCases(openStore: Open): void {
  it('emits DELETED with the last object, and honours resourceVersion', async () => {
    const store = await openStore();
    const { object } = await store.apply(project('web'));
    await store.updateStatus('Project', 'web', { phase: 'Running' });
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));
    const stale = store.delete('Project', 'web', { resourceVersion: object.metadata.resourceVersion ?? '' });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    const current = store.get('Project', 'web');
    const deleted = await store.delete('Project', 'web', { resourceVersion: current?.metadata.resourceVersion ?? '' });
    expect(deleted?.status).toEqual({ phase: 'Running' });
    expect(rv(deleted)).toBeGreaterThan(rv(current));
    expect(events).toEqual([{ type: 'DELETED', object: deleted }]);
    expect(store.get('Project', 'web')).toBeUndefined();
    expect(await store.delete('Project', 'web')).toBeUndefined();
  });

  it('a delete with finalizers marks the object Terminating; clearing them deletes it', async () => {
    const store = await openStore();
    await store.apply(lease('l1'));
    await store.setFinalizers('Lease', 'l1', ['luma.dev/lease']);
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));
    const marked = await store.delete('Lease', 'l1');
    expect(marked?.metadata.deletionTimestamp).toBeDefined();
    expect(store.get('Lease', 'l1')?.metadata.deletionTimestamp).toBe(marked?.metadata.deletionTimestamp);
    expect(events.map((event) => event.type)).toEqual(['MODIFIED']);
    const again = await store.delete('Lease', 'l1');
    expect(again?.metadata.resourceVersion).toBe(marked?.metadata.resourceVersion);
    expect(await store.setFinalizers('Lease', 'l1', [])).toBeUndefined();
    expect(store.get('Lease', 'l1')).toBeUndefined();
    expect(events.map((event) => event.type)).toEqual(['MODIFIED', 'DELETED']);
  });

  it('refuses changes to a Terminating object but accepts an unchanged apply', async () => {
    const store = await openStore();
    await store.apply(lease('l3'));
    await store.setFinalizers('Lease', 'l3', ['luma.dev/lease']);
    await store.delete('Lease', 'l3');
    await expect(store.apply(lease('l3', '20m'))).rejects.toBeInstanceOf(TerminatingError);
    expect((await store.apply(lease('l3'))).result).toBe('unchanged');
    expect(store.get('Lease', 'l3')?.spec.ttl).toBe('10m');
  });

  it('an apply keeps the finalizers the controller set', async () => {
    const store = await openStore();
    await store.apply(lease('l4'));
    await store.setFinalizers('Lease', 'l4', ['luma.dev/lease']);
    await store.apply(lease('l4', '30m'));
    expect(store.get('Lease', 'l4')?.metadata.finalizers).toEqual(['luma.dev/lease']);
  });

  it('new objects start with the initial finalizers of their kind', async () => {
    const store = await openStore({ initialFinalizers: { Lease: ['luma.dev/lease'] } });
    expect((await store.apply(lease('l5'))).object.metadata.finalizers).toEqual(['luma.dev/lease']);
    expect((await store.apply(project('web'))).object.metadata.finalizers).toBeUndefined();
  });
}

function versionCases(openStore: Open, close: Close): void {
  it('only increases, across deletes and reopening', async () => {
    let store = await openStore();
    const seen: number[] = [];
    seen.push(rv((await store.apply(project('a'))).object));
    seen.push(rv((await store.apply(project('b'))).object));
    seen.push(rv(await store.updateStatus('Project', 'a', { phase: 'Idle' })));
    seen.push(rv(await store.delete('Project', 'b')));
    seen.push(rv(await store.delete('Project', 'a')));
    await close(store);
    store = await openStore();
    seen.push(rv((await store.apply(project('a'))).object));
    await close(store);
    store = await openStore();
    seen.push(rv(await store.updateStatus('Project', 'a', { phase: 'Running' })));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] ?? Infinity);
  });

  it('gives distinct, increasing versions to concurrent writes of different objects', async () => {
    const store = await openStore();
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => store.apply(project(name))));
    const versions = results.map((r) => rv(r.object));
    expect(new Set(versions).size).toBe(versions.length);
    await close(store);
    const reopened = await openStore();
    expect(rv((await reopened.apply(project('f'))).object)).toBeGreaterThan(Math.max(...versions));
  });

  it('reloads every object after a restart', async () => {
    const store = await openStore();
    await store.apply(project('web', {}, { labels: { team: 'a' } }));
    await store.updateStatus('Project', 'web', { phase: 'Running' });
    await store.apply(lease('l1'));
    await store.apply(lease('l2'));
    await store.setFinalizers('Lease', 'l2', ['luma.dev/lease']);
    await store.delete('Lease', 'l2');
    const before = [store.get('Project', 'web'), store.get('Lease', 'l1'), store.get('Lease', 'l2')];
    await close(store);
    const reopened = await openStore();
    expect([reopened.get('Project', 'web'), reopened.get('Lease', 'l1'), reopened.get('Lease', 'l2')]).toEqual(before);
    expect(reopened.get('Lease', 'l2')?.metadata.deletionTimestamp).toBeDefined();
  });
}

function serializationCases(openStore: Open, close: Close): void {
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
  });

  it('close waits for pending writes, then refuses new ones', async () => {
    const store = await openStore();
    const pending = store.apply(project('web'));
    await close(store);
    expect(store.get('Project', 'web')).toBeDefined();
    await expect(pending).resolves.toMatchObject({ result: 'created' });
    await expect(store.apply(project('late'))).rejects.toThrow(/closed/);
  });
}

function watchCases(openStore: Open): void {
  it('delivers ADDED and MODIFIED in order; a throwing listener breaks nothing', async () => {
    const errors: unknown[] = [];
    const store = await openStore({ onListenerError: (error) => errors.push(error) });
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

  it('delivers each event once, before the write that caused it resolves', async () => {
    const store = await openStore();
    const events: string[] = [];
    store.watch((event) => events.push(`${event.type} ${event.object.metadata.name} ${rv(event.object)}`));
    const { object } = await store.apply(project('web'));
    expect(events).toEqual([`ADDED web ${rv(object)}`]);
    const deleted = await store.delete('Project', 'web');
    expect(events).toEqual([`ADDED web ${rv(object)}`, `DELETED web ${rv(deleted)}`]);
  });
}
