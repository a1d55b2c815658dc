import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_VERSION, type LeaseObject } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { TerminatingError, type WatchEvent } from '../../../src/store/store.js';

let stateDir: string;
let store: FileStore;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-finalizers-'));
  store = await FileStore.open(stateDir);
});

afterEach(async () => {
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

function lease(name: string, ttl = '10m'): LeaseObject {
  return { apiVersion: API_VERSION, kind: 'Lease', metadata: { name }, spec: { project: 'web', ttl } };
}

describe('finalizers', () => {
  it('a delete with finalizers marks the object Terminating; clearing them deletes it', async () => {
    await store.apply(lease('l1'));
    await store.setFinalizers('Lease', 'l1', ['luma.dev/lease']);
    const events: WatchEvent[] = [];
    store.watch((event) => events.push(event));

    const marked = await store.delete('Lease', 'l1');
    expect(marked?.metadata.deletionTimestamp).toBeDefined();
    expect(store.get('Lease', 'l1')?.metadata.deletionTimestamp).toBe(marked?.metadata.deletionTimestamp);
    expect(events.map((event) => event.type)).toEqual(['MODIFIED']);

    // A second delete changes nothing.
    const again = await store.delete('Lease', 'l1');
    expect(again?.metadata.resourceVersion).toBe(marked?.metadata.resourceVersion);

    expect(await store.setFinalizers('Lease', 'l1', [])).toBeUndefined();
    expect(store.get('Lease', 'l1')).toBeUndefined();
    expect(events.map((event) => event.type)).toEqual(['MODIFIED', 'DELETED']);
  });

  it('survives a restart: a Terminating object is still marked after reopening', async () => {
    await store.apply(lease('l2'));
    await store.setFinalizers('Lease', 'l2', ['luma.dev/lease']);
    await store.delete('Lease', 'l2');
    await store.close();
    store = await FileStore.open(stateDir);
    const reopened = store.get('Lease', 'l2');
    expect(reopened?.metadata.finalizers).toEqual(['luma.dev/lease']);
    expect(reopened?.metadata.deletionTimestamp).toBeDefined();
  });

  it('refuses changes to a Terminating object but accepts an unchanged apply', async () => {
    await store.apply(lease('l3'));
    await store.setFinalizers('Lease', 'l3', ['luma.dev/lease']);
    await store.delete('Lease', 'l3');
    await expect(store.apply(lease('l3', '20m'))).rejects.toBeInstanceOf(TerminatingError);
    expect((await store.apply(lease('l3'))).result).toBe('unchanged');
    expect(store.get('Lease', 'l3')?.spec.ttl).toBe('10m');
  });

  it('an apply keeps the finalizers the controller set', async () => {
    await store.apply(lease('l4'));
    await store.setFinalizers('Lease', 'l4', ['luma.dev/lease']);
    await store.apply(lease('l4', '30m'));
    expect(store.get('Lease', 'l4')?.metadata.finalizers).toEqual(['luma.dev/lease']);
  });
});

describe('mutateStatus', () => {
  it("runs read-modify-write in turn, so concurrent writers keep each other's fields", async () => {
    await store.apply(lease('m1'));
    await Promise.all([
      store.mutateStatus('Lease', 'm1', (current) => ({ ...current.status, phase: 'Active' })),
      store.mutateStatus('Lease', 'm1', (current) => ({ ...current.status, expiresAt: '2030-01-01T00:00:00.000Z' })),
    ]);
    expect(store.get('Lease', 'm1')?.status).toEqual({ phase: 'Active', expiresAt: '2030-01-01T00:00:00.000Z' });
  });

  it('writes nothing when the change returns undefined', async () => {
    await store.apply(lease('m2'));
    const before = store.get('Lease', 'm2')?.metadata.resourceVersion;
    await store.mutateStatus('Lease', 'm2', () => undefined);
    expect(store.get('Lease', 'm2')?.metadata.resourceVersion).toBe(before);
  });
});
